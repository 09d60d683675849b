"""Jieba tokenizer that normalises the text first and never emits whitespace tokens.

Why a subclass: Rasa's JiebaTokenizer yields " " as a token for mixed text like "iPhone 15 退货"
(rasa#7910), and normalising inside the tokenizer keeps every later component — regexes,
entity spans, featurizers — on the same simplified, half-width text.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.text import normalise


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class ChineseTokenizer(JiebaTokenizer):
    def process(self, messages: List[Message]) -> List[Message]:
        # Inference only: training data is written in simplified, half-width text already, and
        # rewriting it here could shift the character offsets of its entity annotations.
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, normalise(text))
        return super().process(messages)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]
