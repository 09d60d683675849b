"""Turns the reason, remedy and rating the NLU found into the codes the policy uses.

DIET often returns part of a Chinese span ("坏" for "坏了"), and EntitySynonymMapper maps exact
strings only, so this component maps any span through the surface-form table in
entity_codes.yml (longest form wins), drops values it cannot map, removes duplicates, and —
for the intents that carry them — finds a reason or remedy DIET missed in the text itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

TABLE_FILE = Path(__file__).with_name("entity_codes.yml")
# Which intents may carry which entity when the text alone shows it (no DIET span needed).
SCAN_INTENTS = {
    "reason": {"request_aftersales", "inform"},
    "remedy": {"request_aftersales", "inform"},
    "rating": {"rate_service"},
}


@lru_cache(maxsize=1)
def surface_forms() -> Dict[str, List[tuple]]:
    """entity → [(form, code)], longest form first."""
    raw = yaml.safe_load(TABLE_FILE.read_text(encoding="utf-8"))
    table: Dict[str, List[tuple]] = {}
    for entity, codes in raw.items():
        pairs = [(str(form), str(code)) for code, forms in codes.items() for form in forms]
        table[entity] = sorted(pairs, key=lambda p: -len(p[0]))
    return table


def codes_of(entity: str) -> set:
    return {code for _, code in surface_forms().get(entity, [])}


def code_for(entity: str, value: str) -> Optional[str]:
    """The code of an extracted span: itself if already a code, else the longest form inside it,
    else the one code whose forms all start with it (a span DIET cut short)."""
    if value in codes_of(entity):
        return value
    pairs = surface_forms().get(entity, [])
    for form, code in pairs:
        if form in value:
            return code
    partial = {code for form, code in pairs if len(value) >= 1 and form.startswith(value)}
    return partial.pop() if len(partial) == 1 else None


def find_in_text(entity: str, text: str) -> Optional[Dict[str, Any]]:
    for form, code in surface_forms().get(entity, []):
        start = text.find(form)
        if start >= 0:
            return {"entity": entity, "value": code, "start": start, "end": start + len(form),
                    "confidence_entity": 1.0, "extractor": "EntityCodeNormalizer"}
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class EntityCodeNormalizer(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EntityCodeNormalizer":
        surface_forms()  # fail at load, not at the first message, if the table is broken
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(ENTITIES, self.normalise(message), add_to_output=True)
        return messages

    def normalise(self, message: Message) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        seen = set()
        for entity in message.get(ENTITIES, []) or []:
            name = entity.get("entity")
            if name in SCAN_INTENTS:
                code = code_for(name, str(entity.get("value", "")))
                if code is None:
                    continue
                entity = {**entity, "value": code}
            key = (name, str(entity.get("value")))
            if key in seen:
                continue  # the same value from two extractors
            seen.add(key)
            out.append(entity)
        intent = (message.get(INTENT) or {}).get("name")
        text = message.get(TEXT) or ""
        for name, intents in SCAN_INTENTS.items():
            if intent in intents and not any(e.get("entity") == name for e in out):
                found = find_in_text(name, text)
                if found is not None:
                    out.append(found)
        return out
