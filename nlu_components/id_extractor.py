"""Regex extraction of structured ids (order_id, case_id, tracking_number).

Rasa 3.6's RegexEntityExtractor only uses regexes named like an entity annotated in the training
data. Ids are deliberately never annotated (DIET would extract them a second time, and digit runs
rarely align with jieba tokens), so this subclass takes every regex of the training data.
"""

from __future__ import annotations

import rasa.shared.utils.io
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.nlu.utils import pattern_utils
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class IdRegexExtractor(RegexEntityExtractor):
    def train(self, training_data: TrainingData) -> Resource:
        self.patterns = pattern_utils.extract_patterns(
            training_data,
            use_lookup_tables=self._config["use_lookup_tables"],
            use_regexes=self._config["use_regexes"],
            use_only_entities=False,
            use_word_boundaries=self._config["use_word_boundaries"],
        )
        if not self.patterns:
            rasa.shared.utils.io.raise_warning("IdRegexExtractor found no regexes in the training data.")
        self.persist()
        return self._resource
