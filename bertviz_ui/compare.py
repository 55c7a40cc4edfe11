"""A against B on the explorer: pin what is shown as A, move the controls to make B, see both.

``pin_bar`` offers "Pin as A" (then "Unpin A" and "Swap A and B"); ``comparison_section`` shows,
while A is pinned, the totals side by side with the difference and the ratio, the parameters per
component, the layers that differ (keras-bert's names) and the comparison as a CSV file. The
figures come from ``bertviz_core.arithmetic.compare``; this file only lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from bertviz_core.arithmetic import explain
from bertviz_core.arithmetic.compare import Comparison, Difference, compare
from bertviz_core.arithmetic.config import ModelConfig
from bertviz_core.arithmetic.explorer_state import ExplorerState
from bertviz_core.data.export import to_safe_csv
from bertviz_core.text import format_bytes, format_count, format_flops, plural
from bertviz_ui.controls import change
from bertviz_ui.session import explorer_state

_FORMATS: dict[str, Callable[[int], str]] = {
    "parameters": format_count,
    "bytes": format_bytes,
    "MB": lambda megabytes: f"{megabytes:,} MB",  # the headline's training memory, as it writes it
    "FLOPs": format_flops,
}


def _pin() -> None:
    change(explorer_state().with_pinned())


def _unpin() -> None:
    change(explorer_state().without_pinned())


def _swap() -> None:
    change(explorer_state().with_swapped())


def pin_bar(state: ExplorerState) -> None:
    """The buttons that pin, unpin and swap A; one line, at any width."""
    row = st.container(horizontal=True, gap="small", key="explorer_compare_buttons")
    if state.pinned is None:
        row.button("Pin as A", key="explorer_pin", on_click=_pin, icon=":material/push_pin:",
                   help="Keep this configuration as A, then move the controls to make B and compare the two.")  # fmt: skip
        return
    row.button("Unpin A", key="explorer_unpin", on_click=_unpin, icon=":material/close:")
    row.button("Swap A and B", key="explorer_swap", on_click=_swap, icon=":material/swap_horiz:")


def _signed(unit: str, value: int) -> str:
    """A difference with its sign: '+1,234', '-3.0 MB', '0'. The minus is the hyphen-minus the
    table's number columns write, so that one table never shows two different minus signs."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + _FORMATS[unit](abs(value))


def _ratio(row: Difference) -> str:
    """B / A as people say it: '× 1.16', '× 253'; a ratio below a tenth as a division, '÷ 224',
    which says more than '× 0.00'."""
    ratio = row.ratio
    if ratio is None:
        return "–"
    if ratio == 0:
        return "× 0"
    if ratio >= 0.1:
        return "× " + _three_digits(ratio)
    return "÷ " + _three_digits(1 / ratio)


def _three_digits(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def figures_frame(rows: Sequence[Difference], first_column: str = "") -> pd.DataFrame:
    """Figures of A and B, the difference and the ratio, written as the headline writes them; a row
    with nothing on either side (the inputs' parameters) is left out."""
    return pd.DataFrame(
        [
            {
                first_column: row.name,
                "A": _FORMATS[row.unit](row.a or 0),
                "B": _FORMATS[row.unit](row.b or 0),
                "B - A": _signed(row.unit, row.difference),
                "B / A": _ratio(row),
            }
            for row in rows
            if row.a or row.b
        ]
    ).set_index(first_column)


def layers_frame(comparison: Comparison) -> pd.DataFrame:
    """The layers that differ: keras-bert's names (which say the type), both counts, the difference and
    where each layer is; narrow enough for a 1024 px screen beside the sidebar."""
    return pd.DataFrame(
        [
            {"Layer": row.name, "A": row.a, "B": row.b, "B - A": row.difference, "In": row.present_in}
            for row in comparison.changed_layers()
        ],
        columns=["Layer", "A", "B", "B - A", "In"],
    ).astype({"A": "Int64", "B": "Int64", "B - A": "Int64"})  # fmt: skip


def _describe(name: str, config: ModelConfig) -> str:
    heads = "bare encoder" if config.encoder_only else "with MLM + NSP heads"
    return f"**{name}**: {explain.describe_model(config)}, {config.pos_num:,} positions, {heads}."


def comparison_section(state: ExplorerState, batch_size: int) -> None:
    """A against B, when A is pinned; nothing otherwise."""
    if state.pinned is not None:
        with st.container(key="explorer_comparison"):
            _comparison(compare(state.pinned, state.config, batch_size))


def _comparison(comparison: Comparison) -> None:
    st.subheader("A against B")
    st.markdown(_describe("A (pinned)", comparison.a) + "  \n" + _describe("B (the controls)", comparison.b))
    if comparison.a == comparison.b:
        st.caption("A and B are the same configuration: move a control to make B.")
    st.caption(
        f"The headline's figures for both: training memory for a batch of {comparison.batch_size:,}, FLOPs per "
        "sequence of each one's own length."
    )
    st.table(figures_frame(comparison.totals))
    st.table(figures_frame(comparison.per_component, first_column="Parameters per component"))
    changed = comparison.changed_layers()
    st.markdown(f"**Layers that differ**: {len(changed):,} of {plural(len(comparison.layers), 'layer')}")
    if changed:
        st.dataframe(
            layers_frame(comparison),
            hide_index=True,
            height=min(320, 38 + 35 * len(changed)),
            key="explorer_compare_layers",
            column_config={
                column: st.column_config.NumberColumn(format="localized") for column in ("A", "B", "B - A")
            },
        )
    else:
        st.caption("Every layer has the same name and parameter count in A and B.")
    st.download_button(
        "Comparison (CSV)",
        lambda: to_safe_csv(comparison.frame()),
        file_name="bert_comparison.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="explorer_download_comparison",
    )
