"""The configuration object: validation sentences, query parameters, JSON, the keras-bert call."""

from __future__ import annotations

import pytest

from bertviz_core.arithmetic.config import ModelConfig, valid_head_counts
from bertviz_core.errors import ConfigError
from bertviz_core.fields import MODEL_FIELD


def test_defaults_are_keras_bert_get_model_defaults_with_berts_vocabulary() -> None:
    config = ModelConfig()
    assert config.get_model_kwargs() == {
        "token_num": 30522, "pos_num": 512, "seq_len": 512, "embed_dim": 768,
        "transformer_num": 12, "head_num": 12, "feed_forward_dim": 3072,
    }  # fmt: skip
    assert ModelConfig(encoder_only=True).get_model_kwargs()["training"] is False
    assert ModelConfig(encoder_only=True).get_model_kwargs()["trainable"] is True


def test_invalid_head_count_names_the_valid_ones_and_keras_berts_error() -> None:
    with pytest.raises(ConfigError) as caught:
        ModelConfig(vocab=1000, seq_len=36, embed_dim=6)
    message = str(caught.value)
    assert "Invalid head number 12 with the given input dim 6" in message
    assert "(1, 2, 3, 6)" in message
    assert valid_head_counts(6) == [1, 2, 3, 6]
    assert valid_head_counts(768)[-1] == 128  # capped by the head limit


def test_sequence_longer_than_positions_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="raise the position count to at least 600"):
        ModelConfig(seq_len=600)


@pytest.mark.parametrize("field", sorted(MODEL_FIELD))
def test_every_field_refuses_values_out_of_range(field: str) -> None:
    low, high = MODEL_FIELD[field].limits
    with pytest.raises(ConfigError, match="out of range"):
        ModelConfig(**{field: low - 1})
    with pytest.raises(ConfigError, match="out of range"):
        ModelConfig(**{field: high + 1})


def test_query_parameters_round_trip_and_stay_short() -> None:
    config = ModelConfig(vocab=1000, seq_len=36, embed_dim=6, heads=1)
    params = config.to_query_params()
    assert params == {"vocab": "1000", "seq_len": "36", "embed_dim": "6", "heads": "1"}
    assert ModelConfig.from_mapping(params) == config
    assert ModelConfig.from_mapping({"encoder_only": "1"}).encoder_only is True
    assert ModelConfig.from_mapping({"vocab": ["5", "1,000"]}).vocab == 1000  # last one wins


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"vocab": "abc"}, "must be a whole number"),
        ({"vocab": "-5"}, "out of range"),
        ({"vocab": "1e9"}, "must be a whole number"),
        ({"vocab": "9" * 40}, "must be a whole number"),
        ({"heads": "7"}, "choose a head count"),
        ({"colour": "red"}, "Unknown setting 'colour'"),
        ({"encoder_only": "maybe"}, "encoder_only must be 1 or 0"),
        ({"vocab": True}, "must be a whole number"),
    ],
)
def test_bad_query_values_are_one_sentence(values: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as caught:
        ModelConfig.from_mapping(values)
    assert "\n" not in str(caught.value)


def test_json_round_trip_and_bad_json() -> None:
    config = ModelConfig(vocab=1234, layers=3, encoder_only=True)
    assert ModelConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="not valid JSON"):
        ModelConfig.from_json("{nope")
    with pytest.raises(ConfigError, match="JSON object"):
        ModelConfig.from_json("[1, 2]")


def test_python_snippet_is_valid_python_that_names_the_settings() -> None:
    for config in (ModelConfig(vocab=1000, heads=1, embed_dim=6, seq_len=36), ModelConfig(encoder_only=True)):
        snippet = config.python_snippet()
        compile(snippet, "snippet.py", "exec")
        assert "TF_USE_LEGACY_KERAS" in snippet
        assert f"token_num={config.vocab}" in snippet


def test_the_field_table_and_the_configuration_describe_the_same_fields() -> None:
    """Adding a model field is a row in fields.py plus its attribute here: a test keeps them together."""
    from dataclasses import fields as dataclass_fields

    from bertviz_core.fields import MODEL_FIELDS, QUERY_KEYS

    attributes = [field.name for field in dataclass_fields(ModelConfig) if field.name != "encoder_only"]
    assert attributes == [field.name for field in MODEL_FIELDS]
    assert set(ModelConfig().get_model_kwargs()) == {field.keras_name for field in MODEL_FIELDS}
    assert list(QUERY_KEYS) == [*attributes, "encoder_only"]
    for field in MODEL_FIELDS:
        assert getattr(ModelConfig(), field.name) == field.default
