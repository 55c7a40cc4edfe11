"""Words to token ids: a word vocabulary from the training texts, encoded with keras-bert's Tokenizer.

keras-bert's ``Tokenizer`` does BERT's basic tokenisation (lower-casing, accents stripped,
punctuation split off) and then WordPiece. A vocabulary built here holds whole words, not
WordPiece pieces, so an unknown word would be chopped into single letters; ``WordTokenizer``
keeps everything else of keras-bert's tokenizer and makes an unknown word one ``[UNK]``.

The tokenizer is keras-bert's own class, reached without importing TensorFlow (see
``keras_bert_tokenizer_class``), so a page can preview how texts split without TensorFlow's
3 seconds and 600 MB.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

import numpy as np

from bertviz_core.data.rows import Dataset, stratified_split
from bertviz_core.errors import VocabularyError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# keras-bert pads with id 0 and its embedding masks id 0, so [PAD] must come first.
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)


@dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order.

    Either built here (the special tokens first, then whole words by falling frequency) or a
    released BERT's WordPiece vocabulary (``[PAD]`` first, ``[unused...]`` rows, the other
    special tokens somewhere after, and ``##`` word pieces): ``word_pieces`` tells them apart,
    and ``tokenizer`` splits texts the way each was made for.
    """

    tokens: tuple[str, ...]
    # Whether texts are lower-cased (and accents stripped) before WordPiece, as the model's own
    # tokenizer settings say (Hugging Face's ``do_lower_case`` or its normalizer's ``lowercase``);
    # None where nothing says so (Google's layout, a vocabulary built here): then guessed, see ``cased``.
    lowercase: bool | None = None

    def __post_init__(self) -> None:
        if self.tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS and (
            not self.tokens or self.tokens[0] != PAD or not set(SPECIAL_TOKENS) <= set(self.tokens)
        ):
            raise VocabularyError(
                f"A vocabulary must start with {PAD} and hold {', '.join(SPECIAL_TOKENS[1:])}; save the model again."
            )
        if len(set(self.tokens)) != len(self.tokens):
            raise VocabularyError("The vocabulary lists a token twice; save the model again.")

    @property
    def word_pieces(self) -> bool:
        """A released BERT's vocabulary (WordPiece), not one built here from training texts."""
        return self.tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS

    @cached_property
    def cased(self) -> bool:
        """Whether texts keep their capitals: as ``lowercase`` says when it is known, otherwise
        guessed from the tokens (Google's cased vocabularies hold words like 'The')."""
        if self.lowercase is not None:
            return not self.lowercase
        return self.word_pieces and any(
            token != token.lower()
            for token in self.tokens
            if not (token.startswith("[") and token.endswith("]"))
        )

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
    def from_text(cls, text: str, max_size: int | None = None, lowercase: bool | None = None) -> Vocabulary:
        tokens = tuple(text.splitlines())
        if any(not token or token != token.strip() for token in tokens):
            raise VocabularyError("vocab.txt has an empty or padded line; save the model again.")
        if max_size is not None and len(tokens) > max_size:
            raise VocabularyError(
                f"vocab.txt lists {len(tokens):,} tokens but the model only has {max_size:,}; "
                "the files do not belong together."
            )
        return cls(tokens, lowercase)


@functools.cache
def keras_bert_tokenizer_class() -> type:
    """keras-bert's ``Tokenizer`` class, without importing TensorFlow.

    ``import keras_bert.tokenizer`` first runs the package's ``__init__``, which builds on
    TensorFlow, although the tokenizer is plain Python that takes only three token names from
    ``keras_bert.bert``. Where keras-bert is already imported (a worker that trains), its class is
    used as it is. Otherwise keras-bert's ``tokenizer.py`` is loaded from its installed file on its
    own, and its one import of ``keras_bert.bert`` is answered with the ``TOKEN_*`` constants read
    (not run) from keras-bert's ``bert.py``. ``tests/data/test_tokens.py`` checks that both give
    the same tokens.
    """
    if "keras_bert" in sys.modules:
        return sys.modules["keras_bert"].Tokenizer
    return standalone_tokenizer_class()


def standalone_tokenizer_class() -> type:
    """keras-bert's ``tokenizer.py`` loaded on its own (see ``keras_bert_tokenizer_class``)."""
    package = importlib.util.find_spec("keras_bert")  # locates the package without running it
    if package is None or not package.submodule_search_locations:
        raise ImportError("keras-bert is not installed: pip install -r requirements.txt")
    folder = Path(next(iter(package.submodule_search_locations)))
    token_names = ModuleType("keras_bert.bert")
    for node in ast.parse((folder / "bert.py").read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id.startswith("TOKEN_"):
            setattr(token_names, target.id, ast.literal_eval(node.value))

    def only_token_names(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        if name == "keras_bert.bert":
            return token_names
        return builtins.__import__(name, globals, locals, fromlist, level)

    spec = importlib.util.spec_from_file_location(
        "bertviz_core.data._keras_bert_tokenizer", folder / "tokenizer.py"
    )
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = {**vars(builtins), "__import__": only_token_names}
    spec.loader.exec_module(module)
    return module.Tokenizer


@functools.cache
def _word_tokenizer_class() -> type:
    # A class, not a model: immutable, so caching it is safe for concurrent sessions.
    class WordTokenizer(keras_bert_tokenizer_class()):
        """keras-bert's Tokenizer with whole words as tokens (an unknown word is one [UNK])."""

        def _word_piece_tokenize(self, word: str) -> list[str]:
            return [word]

    return WordTokenizer


# Google's BERT tokenizer makes any word longer than this one [UNK]; keras-bert's tries every piece
# of it, which grows with the cube of its length (a 4,000-letter word: 8 s; a 50,000-character cell:
# hours), so the same cap applies here.
MAX_WORD_PIECE_CHARS = 100


@functools.cache
def _word_piece_tokenizer_class() -> type:
    class WordPieceTokenizer(keras_bert_tokenizer_class()):
        """keras-bert's Tokenizer, with Google's cap on the length of a word it splits."""

        def _word_piece_tokenize(self, word: str) -> list[str]:
            if len(word) > MAX_WORD_PIECE_CHARS:
                return [UNK]
            return super()._word_piece_tokenize(word)

    return WordPieceTokenizer


def tokenizer(vocabulary: Vocabulary | None = None):
    """A keras-bert ``Tokenizer`` for ``vocabulary`` (specials only when None): keras-bert's own
    WordPiece tokenizer for a released vocabulary (cased as it is), whole words otherwise."""
    if vocabulary is not None and vocabulary.word_pieces:
        return _word_piece_tokenizer_class()(vocabulary.token_dict, cased=vocabulary.cased)
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
            f"A sequence length of {seq_len:,} leaves no room for words between [CLS] and [SEP]; use at least 3."
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
        unknown += sum(1 for token in body if token == UNK or token not in known)
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


@dataclass(frozen=True)
class EncodedSplit:
    """A data set split for training and validation, with a vocabulary from the training texts.

    The one path from training rows to token ids: the training job and the page's preview both
    take it, so the preview's figures are the ones training will meet.
    """

    vocabulary: Vocabulary
    train_indices: np.ndarray
    validation_indices: np.ndarray
    train: EncodedTexts
    validation: EncodedTexts
    train_labels: np.ndarray
    validation_labels: np.ndarray


def encode_split(
    dataset: Dataset,
    vocab_size: int,
    seq_len: int,
    val_share: float,
    seed: int,
    vocabulary: Vocabulary | None = None,
) -> EncodedSplit:
    """Split stratified by class (``seed``), build the vocabulary from the training texts only (so
    validation measures unseen words honestly) unless one is given (a checkpoint's), and encode
    both sides."""
    label_ids = np.asarray(dataset.label_ids, dtype=np.int64)
    train_idx, val_idx = stratified_split(label_ids, val_share, seed)
    train_texts = [dataset.texts[i] for i in train_idx]
    val_texts = [dataset.texts[i] for i in val_idx]
    if vocabulary is None:
        vocabulary = build_vocabulary(train_texts, vocab_size)
    return EncodedSplit(
        vocabulary=vocabulary,
        train_indices=train_idx,
        validation_indices=val_idx,
        train=encode_texts(vocabulary, train_texts, seq_len),
        validation=encode_texts(vocabulary, val_texts, seq_len),
        train_labels=label_ids[train_idx],
        validation_labels=label_ids[val_idx],
    )


# Worth suggesting a longer sequence when at least this share of the texts lose their ends. Measured
# on 3,726 quotations in five topics (README, "Default accuracy"), where 22 % of the texts are longer
# than the default 64 tokens: at 128, validation accuracy 0.656 against 0.644 over eight seeds, for
# about 1.8x the time per epoch (2.15x the arithmetic's FLOPs per text).
CUT_SHARE_WORTH_LONGER = 0.1


def longer_sequence(lengths: Sequence[int], seq_len: int, most: int) -> int | None:
    """A longer sequence worth offering, when at least ``CUT_SHARE_WORTH_LONGER`` of the texts
    (their token ``lengths``, as ``token_preview`` gives them) are longer than ``seq_len``: twice
    it, or less when the longest text or the model's most positions (``most``) stop short of that.
    None when nothing longer is worth it or possible."""
    lengths = np.asarray(lengths)
    if lengths.size == 0 or np.mean(lengths > seq_len) < CUT_SHARE_WORTH_LONGER:
        return None
    longer = min(2 * int(seq_len), int(most), int(lengths.max()))
    return longer if longer > seq_len else None


def token_preview(
    dataset: Dataset,
    vocab_size: int,
    seq_len: int,
    val_share: float,
    seed: int,
    vocabulary: Vocabulary | None = None,
) -> dict:
    """How the texts will fit the model, measured exactly as training will meet them (``encode_split``)."""
    split = encode_split(dataset, vocab_size, seq_len, val_share, seed, vocabulary)
    lengths = np.concatenate([split.train.token_lengths, split.validation.token_lengths])
    return {
        "lengths": lengths.tolist(),
        "truncated": int(np.count_nonzero(lengths > seq_len)),
        "texts": int(len(lengths)),
        "vocabulary_size": len(split.vocabulary),
        "val_unknown_share": split.validation.unknown_share,
        "val_unknown_tokens": split.validation.unknown_tokens,
        "val_word_tokens": split.validation.word_tokens,
    }
