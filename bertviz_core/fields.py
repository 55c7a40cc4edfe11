"""Every setting a person can give, described once: the model's seven fields and the training settings.

Each row drives the sentence that refuses a bad value, the limits ``ModelConfig`` and
``TrainSettings`` check, the explorer's sliders and the training page's boxes (label, help, stops,
bounds), the shared link's query keys and the command line's options. Adding a model field is
one row here plus its attribute on ``ModelConfig`` (a test checks that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelField:
    """One argument of keras-bert's ``get_model``, as people see and set it."""

    name: str  # attribute of ModelConfig, query key of shared links, JSON key
    symbol: str  # the letter formulas use
    label: str  # in a sentence: "the {label} must be ..."
    keras_name: str  # get_model's keyword
    meaning: str  # what it is, for help texts
    limits: tuple[int, int]  # inclusive; wide on purpose, counting is arithmetic
    default: int  # get_model's default (with BERT's uncased vocabulary)
    # The explorer: values a slider steps through (None: a plain slider, or heads, which follow d).
    stops: tuple[int, ...] | None
    sweep_span: int | None  # a growth chart along this field reaches at least this far (None: no chart)
    # The training page: a smaller model to start from, the box's bounds (None: follows seq_len),
    # and how the field is used there.
    train_default: int | None
    train_bounds: tuple[int, int] | None
    train_meaning: str

    @property
    def title(self) -> str:
        """The control's label: 'Vocabulary size V'."""
        return f"{self.label[0].upper()}{self.label[1:]} {self.symbol}"

    @property
    def option(self) -> str:
        """The command line's option: '--seq-len'."""
        return "--" + self.name.replace("_", "-")

    @property
    def help(self) -> str:
        return f"{self.keras_name}: {self.meaning}"

    @property
    def train_help(self) -> str:
        return f"{self.keras_name}: {self.train_meaning}"


MODEL_FIELDS: tuple[ModelField, ...] = (
    ModelField(
        name="vocab", symbol="V", label="vocabulary size", keras_name="token_num",
        meaning="how many different tokens the model knows.",
        limits=(2, 1_000_000), default=30522,
        stops=(2, 100, 500, 1000, 2000, 5000, 8000, 10000, 16000, 20000, 30522, 32000, 50257, 64000,
               100000, 250000, 500000, 1000000),
        sweep_span=50_000, train_default=5000, train_bounds=(16, 200_000),
        train_meaning="the most frequent words of the training texts get an id; others become [UNK].",
    ),
    ModelField(
        name="seq_len", symbol="S", label="sequence length", keras_name="seq_len",
        meaning="tokens per input sequence; shapes activations, not weights.",
        limits=(1, 8192), default=512,
        stops=(1, 8, 16, 32, 36, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192),
        sweep_span=512, train_default=64, train_bounds=(8, 2048),
        train_meaning="tokens per text, [CLS] and [SEP] included; longer texts are cut (pos_num is the same).",
    ),
    ModelField(
        name="pos_num", symbol="P", label="position count", keras_name="pos_num",
        meaning="rows of the position table; S may not exceed it.",
        limits=(1, 8192), default=512,
        stops=(1, 8, 16, 32, 36, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192),
        sweep_span=1024, train_default=None, train_bounds=None,
        train_meaning="equal to the sequence length here.",
    ),
    ModelField(
        name="embed_dim", symbol="d", label="embedding dimension", keras_name="embed_dim",
        meaning="the model's width, the size of every token vector.",
        limits=(1, 8192), default=768,
        stops=(1, 2, 4, 6, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096, 8192),
        sweep_span=1024, train_default=128, train_bounds=(1, 4096),
        train_meaning="the width of every token vector.",
    ),
    ModelField(
        name="heads", symbol="A", label="head count", keras_name="head_num",
        meaning="attention heads; each gets d / A dimensions, so A must divide d.",
        limits=(1, 128), default=12, stops=None, sweep_span=None, train_default=2, train_bounds=(1, 64),
        train_meaning="attention heads; only counts that divide the embedding dimension are offered.",
    ),
    ModelField(
        name="layers", symbol="L", label="layer count", keras_name="transformer_num",
        meaning="encoder blocks stacked on the embeddings.",
        limits=(1, 96), default=12, stops=None, sweep_span=24, train_default=2, train_bounds=(1, 48),
        train_meaning="encoder blocks stacked on top of each other.",
    ),
    ModelField(
        name="ff_dim", symbol="F", label="feed-forward width", keras_name="feed_forward_dim",
        meaning="the hidden width inside each block's feed-forward layer.",
        limits=(1, 65536), default=3072,
        stops=(1, 16, 64, 128, 256, 512, 1024, 2048, 3072, 4096, 8192, 16384, 32768, 65536),
        sweep_span=4096, train_default=512, train_bounds=(1, 16_384),
        train_meaning="the hidden width inside each block's feed-forward layer.",
    ),
)  # fmt: skip

MODEL_FIELD: dict[str, ModelField] = {field.name: field for field in MODEL_FIELDS}
# Query parameter and JSON keys: the seven fields and the one flag.
QUERY_KEYS: tuple[str, ...] = (*MODEL_FIELD, "encoder_only")


@dataclass(frozen=True)
class TrainingField:
    """One training setting (``TrainSettings``), as the page and the command line offer it."""

    name: str
    label: str  # in a sentence
    title: str  # the page's label
    default: int | float | str
    limits: tuple[float, float] | None  # None for a choice
    option: str  # the command line's option
    help: str
    whole: bool = True  # a whole number (else a fraction or a rate)
    choices: tuple[str, ...] = ()  # the values of a setting that is one of a few words


# How much of a pretrained start training changes (``TrainSettings.encoder``): every layer, or only the
# softmax head on top of an encoder kept as it was (feature extraction: the encoder reads each text
# once, then only the head trains, in seconds).
FINE_TUNE, FROZEN = "fine-tune", "frozen"


TRAINING_FIELDS: tuple[TrainingField, ...] = (
    TrainingField("epochs", "number of epochs", "Epochs", 8, (1, 500), "--epochs",
                  "Passes over the training texts; early stopping may end sooner."),
    TrainingField("batch_size", "batch size", "Batch size", 32, (1, 4096), "--batch-size",
                  "Texts per training step."),
    TrainingField("learning_rate", "learning rate", "Learning rate", 1e-3, (0.0, 1.0), "--learning-rate",
                  "Adam's largest step size: it rises to this over the first tenth of the steps, then falls "
                  "to zero by the last epoch.", whole=False),
    TrainingField("val_share", "validation share", "Validation share", 0.2, (0.05, 0.5), "--val-split",
                  "Rows kept aside, in every class's proportion, to measure the model on texts it never "
                  "trained on.", whole=False),
    TrainingField("seed", "seed", "Seed", 0, (0, 2**31 - 1), "--seed",
                  "The same seed gives the same sample, split, starting weights and result."),
    TrainingField("patience", "patience", "Patience (epochs)", 2, (1, 500), "--patience",
                  "Stop early after this many epochs without a better validation accuracy; the best epoch is kept."),
    TrainingField("encoder", "encoder setting", "Encoder", FINE_TUNE, None, "--encoder",
                  f"{FINE_TUNE}: train every layer of the model; {FROZEN}: keep a pretrained encoder as it is and "
                  "train only the softmax head on its average token vectors (the encoder reads each text once, "
                  "then the epochs take seconds).", whole=False, choices=(FINE_TUNE, FROZEN)),
)  # fmt: skip

TRAINING_FIELD: dict[str, TrainingField] = {field.name: field for field in TRAINING_FIELDS}
