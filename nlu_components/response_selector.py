"""A ResponseSelector that answers only the messages whose intent is its retrieval intent.

Why: Rasa runs the ResponseSelector — a second neural network as large as DIET — on every message,
although its answer is read only by `utter_ask_policy`, which follows `ask_policy`. Profiling the
server put it at a sixth of the CPU of a turn. Skipping it for other intents changes no reply;
messages of other intents simply carry no `response_selector` prediction.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentGatedResponseSelector(ResponseSelector):
    def process(self, messages: List[Message]) -> List[Message]:
        wanted = [m for m in messages if (m.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.retrieval_intent]
        if wanted:
            super().process(wanted)
        return messages
