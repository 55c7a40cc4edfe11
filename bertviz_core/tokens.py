"""Words to token ids: a word vocabulary from the training texts, encoded with keras-bert's Tokenizer.

keras-bert's ``Tokenizer`` does BERT's basic tokenisation (lower-casing, accents stripped,
punctuation split off) and then WordPiece. A vocabulary built here holds whole words, not
WordPiece pieces, so an unknown word would be chopped into single letters; ``WordTokenizer``
keeps everything else of keras-bert's tokenizer and makes an unknown word one ``[UNK]``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bertviz_core import tf_runtime
from bertviz_core.errors import UserError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# keras-bert pads with id 0 and its embedding masks id 0, so [PAD] must come first.
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


class VocabularyError(UserError):
    """A vocabulary file that cannot be used."""


@dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order: the special tokens first, then words by falling frequency."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
            raise VocabularyError(
                f"A vocabulary must start with {', '.join(SPECIAL_TOKENS)}, in that order; save the model again."
            )
        if len(set(self.tokens)) != len(self.tokens):
            raise VocabularyError("The vocabulary lists a token twice; save the model again.")

    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def token_dict(self) -> dict[str, int]:
        return {token: index for index, token in enumerate(self.tokens)}

    @property
    def word_count(self) -> int:
        return len(self.tokens) - len(SPECIAL_TOKENS)

    def to_text(self) -> str:
        """``vocab.txt``: one token per line, line number = id (BERT's own format)."""
        return "".join(token + "\n" for token in self.tokens)

    @classmethod
    def from_text(cls, text: str, max_size: int | None = None) -> Vocabulary:
        tokens = tuple(text.splitlines())
        if any(not token or token != token.strip() for token in tokens):
            raise VocabularyError("vocab.txt has an empty or padded line; save the model again.")
        if max_size is not None and len(tokens) > max_size:
            raise VocabularyError(
                f"vocab.txt lists {len(tokens):,} tokens but the model only has {max_size:,}; "
                "the files do not belong together."
            )
        return cls(tokens)


@functools.cache
def _word_tokenizer_class() -> type:
    # A class, not a model: immutable, so caching it is safe for concurrent sessions.
    keras_bert = tf_runtime.keras_bert()

    class WordTokenizer(keras_bert.Tokenizer):
        """keras-bert's Tokenizer with whole words as tokens (an unknown word is one [UNK])."""

        def _word_piece_tokenize(self, word: str) -> list[str]:
            return [word]

    return WordTokenizer


def tokenizer(vocabulary: Vocabulary | None = None):
    """A keras-bert ``Tokenizer`` for ``vocabulary`` (specials only when None)."""
    token_dict = (
        vocabulary.token_dict if vocabulary is not None else {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    )
    return _word_tokenizer_class()(token_dict)


def words(text: str) -> list[str]:
    """keras-bert's basic tokenisation of one text, without [CLS] and [SEP]."""
    return tokenizer().tokenize(text)[1:-1]


def build_vocabulary(texts: Iterable[str], size: int) -> Vocabulary:
    """The special tokens plus the ``size - 5`` most frequent words (ties in alphabetical order)."""
    if size <= len(SPECIAL_TOKENS):
        raise VocabularyError(
            f"A vocabulary of {size} has no room for words after the {len(SPECIAL_TOKENS)} special tokens; "
            f"use at least {len(SPECIAL_TOKENS) + 1}."
        )
    split = tokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(split.tokenize(text)[1:-1])
    for special in SPECIAL_TOKENS:
        counts.pop(special, None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Vocabulary(SPECIAL_TOKENS + tuple(word for word, _ in ranked[: size - len(SPECIAL_TOKENS)]))


@dataclass(frozen=True)
class EncodedTexts:
    """Token and segment ids for a batch of texts, and how well the vocabulary covered them."""

    token_ids: np.ndarray  # (texts, seq_len) int32, [CLS] first, padded with 0
    segment_ids: np.ndarray  # (texts, seq_len) int32, all 0: one sentence per text
    token_lengths: np.ndarray  # (texts,) tokens per text with [CLS] and [SEP], before cutting
    unknown_tokens: int  # words not in the vocabulary (counted before cutting)
    word_tokens: int  # all words (counted before cutting)
    seq_len: int

    @property
    def truncated(self) -> int:
        """Texts longer than the sequence length, whose end was cut off."""
        return int(np.count_nonzero(self.token_lengths > self.seq_len))

    @property
    def unknown_share(self) -> float:
        return self.unknown_tokens / self.word_tokens if self.word_tokens else 0.0

    def stats(self) -> dict:
        lengths = self.token_lengths
        return {
            "texts": int(len(lengths)),
            "seq_len": self.seq_len,
            "unknown_share": round(self.unknown_share, 6),
            "unknown_tokens": self.unknown_tokens,
            "word_tokens": self.word_tokens,
            "truncated": self.truncated,
            "mean_length": round(float(lengths.mean()), 3) if len(lengths) else 0.0,
            "max_length": int(lengths.max()) if len(lengths) else 0,
        }


def encode_texts(vocabulary: Vocabulary, texts: Sequence[str], seq_len: int) -> EncodedTexts:
    """Encode each text as one sentence: ``[CLS] words [SEP]``, cut or padded to ``seq_len``."""
    if seq_len < 3:
        raise VocabularyError(
            f"A sequence length of {seq_len} leaves no room for words between [CLS] and [SEP]; use at least 3."
        )
    split = tokenizer(vocabulary)
    known = vocabulary.token_dict
    token_ids = np.zeros((len(texts), seq_len), dtype=np.int32)
    lengths = np.zeros(len(texts), dtype=np.int32)
    unknown = total = 0
    for row, text in enumerate(texts):
        tokens = split.tokenize(text)
        lengths[row] = len(tokens)
        body = tokens[1:-1]
        total += len(body)
        unknown += sum(1 for token in body if token not in known)
        ids, _ = split.encode(text, max_len=seq_len)
        token_ids[row] = ids
    return EncodedTexts(
        token_ids=token_ids,
        segment_ids=np.zeros_like(token_ids),
        token_lengths=lengths,
        unknown_tokens=unknown,
        word_tokens=total,
        seq_len=seq_len,
    )
