"""Two configurations side by side, A (pinned) against B (the controls): totals, components, layers.

Every figure comes from the same functions the explorer's headline and layer table use, so the
comparison can never disagree with what either configuration shows on its own. Layers are matched
by keras-bert's own names: a layer present in both is compared, one only in A or only in B (more
encoder blocks, the pretraining heads) says so. ``frame`` holds the whole comparison for a
spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from bertviz_core.arithmetic import costs
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.params import COMPONENTS, component_totals, layer_rows, total_params
from bertviz_core.arithmetic.training_memory import explorer_training_memory
from bertviz_core.fields import MODEL_FIELDS

BOTH, ONLY_A, ONLY_B = "both", "only A", "only B"
# The comparison's CSV columns; "B - A" with a plain hyphen, which every spreadsheet reads.
CSV_COLUMNS = ("section", "name", "unit", "A", "B", "B - A", "B / A", "present in")


def training_memory_mb(config: ModelConfig, batch_size: int) -> int:
    """The headline's "Training memory" figure, in MB (MiB) as the headline shows it: the peak memory
    of a process training this model as the training page does. The comparison reads it only
    through this function, so a change of the memory model is one line here."""
    return explorer_training_memory(config, batch_size).total_mb


@dataclass(frozen=True)
class Difference:
    """One quantity of A and of B. ``None`` on a side that does not have it (a layer only in one)."""

    name: str
    unit: str  # parameters, bytes, MB (MiB, as the headline writes them), FLOPs, or "" for a setting
    a: int | None
    b: int | None

    @property
    def present_in(self) -> str:
        return ONLY_A if self.b is None else ONLY_B if self.a is None else BOTH

    @property
    def difference(self) -> int:
        """B - A, a missing side counting as zero (a layer only in B adds all its parameters)."""
        return (self.b or 0) - (self.a or 0)

    @property
    def ratio(self) -> float | None:
        """B / A, or None when A is missing or zero (no ratio means anything then)."""
        if not self.a or self.b is None:
            return None
        return self.b / self.a

    @property
    def differs(self) -> bool:
        return self.present_in != BOTH or self.a != self.b


@dataclass(frozen=True)
class LayerDifference(Difference):
    type: str = ""  # keras-bert's class name
    component: str = ""


@dataclass(frozen=True)
class Comparison:
    """A against B for one batch size (training memory depends on it)."""

    a: ModelConfig
    b: ModelConfig
    batch_size: int

    @cached_property
    def settings(self) -> tuple[Difference, ...]:
        """The seven fields and the heads flag (1: counted, as the controls' toggle shows it)."""
        rows = [Difference(field.name, "", getattr(self.a, field.name), getattr(self.b, field.name))
                for field in MODEL_FIELDS]  # fmt: skip
        rows.append(
            Difference("pretraining heads", "", int(not self.a.encoder_only), int(not self.b.encoder_only))
        )
        return tuple(rows)

    @cached_property
    def totals(self) -> tuple[Difference, ...]:
        """The headline's five figures for A and B."""
        a_work, b_work = costs.compute(self.a), costs.compute(self.b)
        a_memory, b_memory = costs.memory(self.a), costs.memory(self.b)
        return (
            Difference("Parameters", "parameters", total_params(self.a), total_params(self.b)),
            Difference(
                "Weights (fp32)", "bytes", a_memory.weights_bytes["fp32"], b_memory.weights_bytes["fp32"]
            ),
            Difference(
                f"Training memory (batch {self.batch_size:,})",
                "MB",
                training_memory_mb(self.a, self.batch_size),
                training_memory_mb(self.b, self.batch_size),
            ),
            Difference("Forward FLOPs per sequence", "FLOPs", a_work.forward, b_work.forward),
            Difference("Training FLOPs per sequence", "FLOPs", a_work.training, b_work.training),
        )

    @cached_property
    def per_component(self) -> tuple[Difference, ...]:
        """Parameters per component; every component listed, zero where a side has none."""
        a_parts, b_parts = component_totals(self.a), component_totals(self.b)
        return tuple(Difference(name, "parameters", a_parts[name], b_parts[name]) for name in COMPONENTS)

    @cached_property
    def layers(self) -> tuple[LayerDifference, ...]:
        """Every layer of A or B, matched by name, in model order (a layer only in B sits after the
        layer that precedes it in B: Encoder-13 after Encoder-12)."""
        a_rows = {row.name: row for row in layer_rows(self.a)}
        b_rows = {row.name: row for row in layer_rows(self.b)}
        rows: list[LayerDifference] = []
        for name in _merged_order(a_rows, b_rows):
            a_row, b_row = a_rows.get(name), b_rows.get(name)
            kind = a_row if a_row is not None else b_row
            assert kind is not None  # every name comes from one side or the other
            rows.append(
                LayerDifference(
                    name,
                    "parameters",
                    None if a_row is None else a_row.params,
                    None if b_row is None else b_row.params,
                    type=kind.type,
                    component=kind.component,
                )
            )
        return tuple(rows)

    def changed_layers(self) -> tuple[LayerDifference, ...]:
        """The layers whose count differs or that only one side has."""
        return tuple(row for row in self.layers if row.differs)

    def csv_rows(self) -> list[dict[str, object]]:
        """The whole comparison, one row per setting, total, component and layer (``CSV_COLUMNS``)."""
        sections = (("setting", self.settings), ("total", self.totals), ("component", self.per_component),
                    ("layer", self.layers))  # fmt: skip
        return [
            {"section": section, "name": row.name, "unit": row.unit, "A": row.a, "B": row.b,
             "B - A": row.difference, "B / A": row.ratio, "present in": row.present_in}
            for section, rows in sections for row in rows
        ]  # fmt: skip

    def frame(self) -> pd.DataFrame:
        """``csv_rows`` as a table; counts as whole numbers with gaps where a side has no layer."""
        frame = pd.DataFrame(self.csv_rows(), columns=list(CSV_COLUMNS))
        for column in ("A", "B", "B - A"):
            frame[column] = frame[column].astype("Int64")
        frame["B / A"] = frame["B / A"].astype("float64")
        return frame


def compare(a: ModelConfig, b: ModelConfig, batch_size: int = 32) -> Comparison:
    """A against B, for training memory at ``batch_size`` sequences."""
    return Comparison(a, b, batch_size)


def _merged_order(a_names: Iterable[str], b_names: Iterable[str]) -> list[str]:
    """A's names in order, each name only B has inserted right after its predecessor in B."""
    order = list(a_names)
    placed = set(order)
    anchor = -1  # where the last of B's names sits in ``order``
    for name in b_names:
        if name in placed:
            anchor = order.index(name)
        else:
            anchor += 1
            order.insert(anchor, name)
            placed.add(name)
    return order
