"""Words to ids with keras-bert's tokenizer, reached without TensorFlow; vocabularies; encoding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bertviz_core.data.tokens import (
    SPECIAL_TOKENS,
    Vocabulary,
    build_vocabulary,
    encode_texts,
    standalone_tokenizer_class,
    words,
)
from bertviz_core.errors import VocabularyError


# --- tokens -------------------------------------------------------------------------------------
def test_basic_tokenisation_lowercases_strips_accents_and_splits_punctuation():
    assert words("Hello, WORLD! Café au-lait") == ["hello", ",", "world", "!", "cafe", "au", "-", "lait"]


def test_vocabulary_has_specials_first_then_words_by_frequency():
    vocabulary = build_vocabulary(["b a a", "a c", "d d"], size=len(SPECIAL_TOKENS) + 3)
    assert vocabulary.tokens[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert vocabulary.tokens[5:] == ("a", "d", "b")  # a:3, d:2, then b before c (tie, alphabetical)
    assert vocabulary.token_dict["[PAD]"] == 0
    assert len(build_vocabulary(["x y"], size=1000)) == 7  # never padded beyond the words seen


def test_vocabulary_too_small_is_refused_with_a_sentence():
    with pytest.raises(VocabularyError, match="no room for words"):
        build_vocabulary(["a"], size=5)


def test_encoding_counts_unknown_words_and_truncated_texts():
    vocabulary = build_vocabulary(["good film", "bad film"], size=8)  # film, bad, good
    encoded = encode_texts(vocabulary, ["good film", "great film indeed", "bad " * 10], seq_len=6)
    ids = vocabulary.token_dict
    assert encoded.token_ids.shape == (3, 6) and encoded.token_ids.dtype == np.int32
    assert encoded.token_ids[0].tolist() == [ids["[CLS]"], ids["good"], ids["film"], ids["[SEP]"], 0, 0]
    assert encoded.token_ids[1].tolist()[:5] == [
        ids["[CLS]"],
        ids["[UNK]"],
        ids["film"],
        ids["[UNK]"],
        ids["[SEP]"],
    ]
    assert encoded.token_ids[2].tolist() == [ids["[CLS]"]] + [ids["bad"]] * 4 + [ids["[SEP]"]]
    assert encoded.token_lengths.tolist() == [4, 5, 12]
    assert encoded.unknown_tokens == 2 and encoded.word_tokens == 2 + 3 + 10
    assert encoded.truncated == 1
    assert encoded.stats()["unknown_share"] == pytest.approx(2 / 15, abs=1e-6)
    assert not encoded.segment_ids.any()


def test_vocabulary_text_round_trip_and_refusals():
    vocabulary = build_vocabulary(["alpha beta"], size=10)
    assert Vocabulary.from_text(vocabulary.to_text()) == vocabulary
    with pytest.raises(VocabularyError):
        Vocabulary.from_text("alpha\nbeta\n")
    with pytest.raises(VocabularyError):
        Vocabulary.from_text(vocabulary.to_text(), max_size=3)
    with pytest.raises(VocabularyError):
        Vocabulary.from_text(vocabulary.to_text() + "alpha\n")


def test_the_tokenizer_is_keras_berts_own_and_needs_no_tensorflow() -> None:
    probe = (
        "import sys; from bertviz_core.data.tokens import build_vocabulary, encode_texts; "
        "v = build_vocabulary(['Héllo, wörld!'], 20); encode_texts(v, ['hello there'], 8); "
        "print('tensorflow' in sys.modules, 'keras_bert' in sys.modules)"
    )
    finished = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert finished.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_the_standalone_tokenizer_splits_exactly_as_keras_berts_package_does() -> None:
    from bertviz_core.model import runtime

    standalone = standalone_tokenizer_class()
    keras_bert = runtime.keras_bert()
    assert standalone is not keras_bert.Tokenizer
    token_dict = {
        token: index for index, token in enumerate([*SPECIAL_TOKENS, "hello", "world", "##s", "cafe"])
    }
    texts = ["Hello, worlds!", "Café  crème\tnaïve — 東京 x2", "", "[CLS] spaces   and\nlines", "hello" * 30]
    for cased in (False, True):
        ours, theirs = standalone(token_dict, cased=cased), keras_bert.Tokenizer(token_dict, cased=cased)
        for text in texts:
            assert ours.tokenize(text) == theirs.tokenize(text)
            assert ours.encode(text, max_len=12) == theirs.encode(text, max_len=12)


def test_a_released_vocabularys_tokenizer_makes_a_huge_word_one_unknown_token():
    """keras-bert's WordPiece tries every piece of a word (cubic in its length: a 4,000-letter word took
    8 s); as Google's tokenizer, a word over 100 characters is one [UNK]."""
    from bertviz_core.data.tokens import MAX_WORD_PIECE_CHARS, Vocabulary, encode_texts

    vocabulary = Vocabulary(("[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "word"))
    assert vocabulary.word_pieces
    encoded = encode_texts(vocabulary, ["word " + "a" * 20_000, "a" * MAX_WORD_PIECE_CHARS], 8)
    tokens = [[vocabulary.tokens[i] for i in row if i] for row in encoded.token_ids]
    assert tokens[0] == ["[CLS]", "word", "[UNK]", "[SEP]"]
    assert tokens[1][:3] == ["[CLS]", "a", "##a"]  # up to the cap, split into pieces as before


def test_a_longer_sequence_is_suggested_when_a_tenth_of_the_texts_are_cut():
    from bertviz_core.data.tokens import longer_sequence

    tenth_cut = [64] * 90 + [200] * 10
    assert longer_sequence(tenth_cut, seq_len=64, most=2048) == 128  # twice the length
    assert longer_sequence([64] * 91 + [200] * 9, seq_len=64, most=2048) is None  # 9 % cut: not worth it
    assert longer_sequence(tenth_cut, seq_len=64, most=100) == 100  # as long as the model may be
    assert longer_sequence(tenth_cut, seq_len=64, most=64) is None  # no longer at all
    assert longer_sequence([64] * 90 + [70] * 10, seq_len=64, most=2048) == 70  # the longest text is enough
    assert longer_sequence([], seq_len=64, most=2048) is None
