"""Fixes to Rasa 3.6.21 that change its cost or its false alarms, never its behaviour.

The action reply validator. Why: profiling our server under load (py-spy, five-turn conversations,
five custom action calls per conversation) showed 44 % of its CPU in `jsonschema`, re-checking the
*schema* of the action server's reply against JSON Schema's 2020-12 meta-schema on every single
action call. `jsonschema.validate(instance, schema)` builds a validator and runs `check_schema` each
time; the schema is a constant. Checking it once and keeping the validator gives the same verdict
and the same error (`best_match` of the same errors, with Rasa's hint appended).

Subclasses of ResponseSelector. Rasa recognises a ResponseSelector by its exact class: with ours
(nlu_components.response_selector) training warns that FAQ examples go unused, and `rasa test nlu`
scores it as an entity extractor. It is told that the subclass is one.
"""

from __future__ import annotations

import functools
from typing import Any, Dict

from jsonschema import validators
from jsonschema.exceptions import ValidationError, best_match
from rasa.core.actions.action import RemoteAction
from rasa.graph_components.validators.default_recipe_validator import DefaultV1RecipeValidator
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.response_selector import IntentGatedResponseSelector

_HINT = (". Failed to validate Action server response from API, make sure your response from the Action "
         "endpoint is valid. For more information about the format visit {docs}/custom-actions")


@functools.lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once per process instead of once per action call
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once: same errors, same message."""
    from rasa.shared.constants import DOCS_BASE_URL

    error: ValidationError | None = best_match(_action_result_validator().iter_errors(result))
    if error is not None:
        error.message += _HINT.format(docs=DOCS_BASE_URL)
        raise error
    return True


_warn_if_unused = DefaultV1RecipeValidator._warn_if_some_training_data_is_unused


def _warn_if_some_training_data_is_unused(self: DefaultV1RecipeValidator, training_data: TrainingData) -> None:
    if any(issubclass(t, ResponseSelector) for t in self._component_types):
        self._component_types = self._component_types | {ResponseSelector}
    _warn_if_unused(self, training_data)


def apply(command: str | None = None) -> None:
    """Installs the fixes a Rasa command needs (all of them without one); idempotent."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    DefaultV1RecipeValidator._warn_if_some_training_data_is_unused = (  # type: ignore[method-assign]
        _warn_if_some_training_data_is_unused)
    if command in (None, "test"):  # rasa.nlu.test pulls in matplotlib: not for a server
        import rasa.nlu.test

        rasa.nlu.test.ENTITY_PROCESSORS.add(IntentGatedResponseSelector.__name__)
