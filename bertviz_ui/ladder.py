"""The training page's size ladder: how small can the model be on this data?

Before it starts, the ladder says which sizes it will train, how long that will take (the
explorer's prediction, from this machine's measured rate) and the memory each needs, or one sentence
why it cannot run. Then its rungs are jobs of the server's pool (``jobs.ladder_run``), a few at a
time so that other visitors' trainings interleave; the chart gains a point as each size finishes,
and Stop stops the rest. Every finished size is one of the visitor's runs (the results below can
open it, predict with it and download it, its int8 file too); the chart is drawn again from those
stored runs after a reload.
"""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from bertviz_core.arithmetic.config import training_default_config
from bertviz_core.budget import training_budget_mb
from bertviz_core.charts.ladder import AXES, ladder_chart
from bertviz_core.data.rows import TrainingRows
from bertviz_core.errors import UserError
from bertviz_core.jobs.ladder_run import WAITING, LadderRun, LadderSnapshot
from bertviz_core.jobs.protocol import DONE, QUEUED, RUNNING
from bertviz_core.jobs.requests import ladder_rung_request
from bertviz_core.ladder import LadderPlan, ladder_report, plan_ladder, rung_result, smallest_within
from bertviz_core.runs import CLASSIFIER, MAX_MB, StoredRun
from bertviz_core.settings import FROZEN, SCRATCH, TrainSettings
from bertviz_core.text import escape_markdown as md
from bertviz_core.text import format_bytes, format_duration
from bertviz_ui.jobs import current_ladder, pool, set_ladder, store, visitor
from bertviz_ui.timing import machine_rate, split_sizes

BUDGET_MINUTES = (1, 30, 5)  # least, most, default
LIVE_SECONDS = 2.0
# The app keeps the int8 file of each size for download; the fp16 one is measured, then deleted (a
# fine-tuned all-MiniLM-L6-v2 is 90 MB of model.h5, 23 MB of int8 and 45 MB of fp16).
KEPT_PRECISIONS = ("int8",)


def section(rows: TrainingRows, source: str, start, settings: TrainSettings) -> None:
    """The plan and Start, or the ladder climbing; then the last ladder's chart and table."""
    st.caption(
        "Trains a row of sizes on this data, from a few tens of thousands of parameters to the largest your "
        "time budget allows (plus the pretrained start, head only and fine-tuned, when you start from one), "
        "each on the same split and seed with the settings above (a way of training other than your start's "
        "takes its own suggested learning rate), and converts each to TensorFlow Lite int8 and fp16: accuracy "
        "against size, measured."
    )
    climbing = current_ladder()
    climbing = climbing if climbing is not None and not climbing.snapshot().is_over else None
    least, most, default = BUDGET_MINUTES
    # Drawn while a ladder climbs too (disabled): a widget left out of a run loses its value.
    minutes = st.slider("Time budget (minutes)", least, most, default, key="ladder_budget_minutes",
                        disabled=climbing is not None,
                        help="The ladder plans the longest row of sizes whose predicted training fits in it.")  # fmt: skip
    if climbing is not None:
        st.fragment(_live, run_every=LIVE_SECONDS)(climbing)
        return
    plan = _plan(rows, start, settings, minutes)
    if plan is not None and st.button("Climb the ladder", icon=":material/stacked_bar_chart:", key="ladder_start",
                                      help="Every size becomes one of your runs; Stop keeps the sizes already finished."):  # fmt: skip
        _start(rows, source, start, settings, plan)
        st.rerun()
    _last_ladder()


def _plan(rows: TrainingRows, start, settings: TrainSettings, minutes: int) -> LadderPlan | None:
    rate = machine_rate(say=False)  # the training section above says why, when it is drawn
    sizes = split_sizes(rows.dataset.label_ids, settings.val_share, settings.seed)
    if rate is None:
        st.caption(
            ":material/timer: The plan needs this machine's measured speed; it appears once that is in."
        )
        return None
    if sizes is None:
        return None
    base = training_default_config().with_changes(seq_len=start.config.seq_len, pos_num=start.config.seq_len)
    if start.checkpoint is None:
        base = base.with_changes(vocab=start.config.vocab)
    pretrained = (
        None if start.checkpoint is None else (start.checkpoint.name, start.config, start.checkpoint.gelu)
    )
    try:
        plan = plan_ladder(base, len(rows.dataset.class_names), *sizes, settings, minutes * 60, rate,
                           training_budget_mb(beside_server=True), pretrained,
                           SCRATCH if start.checkpoint is None else settings.encoder)  # fmt: skip
    except UserError as error:
        st.error(md(error))
        return None
    st.caption(f":material/timer: {md(plan.sentence())}")
    for note in plan.notes:
        st.caption(md(note))
    st.dataframe(
        pd.DataFrame(
            {
                "size": rung.name,
                "parameters": rung.parameters,
                "trains": "head only" if rung.encoder == FROZEN else "every layer",
                "learning rate": f"{rung.settings.learning_rate:g}",
                "epochs (at most)": rung.settings.epochs,
                "predicted time": format_duration(rung.predicted_seconds),
                "memory (MB)": rung.memory_mb,
                "fp32 / int8 weights": f"{format_bytes(rung.predicted_bytes()['fp32'])} / "
                f"{format_bytes(rung.predicted_bytes()['int8'])}",
            }
            for rung in plan.rungs
        ),
        hide_index=True,
        column_config={"parameters": st.column_config.NumberColumn(format="localized")},
    )
    return plan


def _start(rows: TrainingRows, source: str, start, settings: TrainSettings, plan: LadderPlan) -> None:
    runs, key, ladder_id = store(), visitor(), uuid.uuid4().hex[:12]
    checkpoint = (start.checkpoint.folder, start.checkpoint.name) if start.checkpoint is not None else None
    folders = {}

    def request_for(index: int, rung):
        folders[index] = runs.new_run_folder(key)
        request = ladder_rung_request(rows.dataset, rung, folders[index], key, checkpoint, KEPT_PRECISIONS)
        request.inputs["source"] = source
        return request

    def finished(index: int, job) -> None:  # in the pool's thread, also when no tab of the visitor is open
        if job is None or job.state != DONE:
            if index in folders:
                runs.discard_folder(key, folders[index])
            return
        metrics = job.result["metrics"]
        result = rung_result(plan.rungs[index], job.result, None)
        baselines = {name: metrics.get(name) for name in
                     ("tfidf_baseline", "tfidf_macro_f1", "majority_baseline", "majority_class")}  # fmt: skip
        record = {"source": source, "ladder": {"id": ladder_id, "index": index, "of": len(plan.rungs),
                                               "result": result, "baselines": baselines}}  # fmt: skip
        runs.finish_run(key, folders[index], record)

    climbing = LadderRun(pool(), plan, request_for, finished, parallel=LadderRun.room(pool()))
    set_ladder(climbing.start())


def _live(climbing: LadderRun) -> None:
    snapshot = climbing.snapshot()
    if snapshot.is_over:
        st.rerun()
    st.button("Stop the ladder", key="ladder_stop", icon=":material/stop_circle:", on_click=climbing.stop)
    st.progress(len(snapshot.done) / len(snapshot.rungs), text=md(_progress_sentence(snapshot)))
    if snapshot.stop_requested:
        st.info(
            "Stopping: the sizes in training keep their best epoch; no more start.",
            icon=":material/hourglass_top:",
        )
    results = [rung_result(state.rung, state.snapshot.result, None) for state in snapshot.done]
    if results:
        metrics = snapshot.done[0].snapshot.result["metrics"]
        st.plotly_chart(ladder_chart(ladder_report(results, metrics)), key="ladder_live_chart")


def _progress_sentence(snapshot: LadderSnapshot) -> str:
    parts = [f"{len(snapshot.done)} of {len(snapshot.rungs)} sizes done"]
    for state in snapshot.rungs:
        if state.state == QUEUED:
            parts.append(
                f"{state.rung.name} waiting for a worker (number {state.snapshot.place_in_line} in line)"
            )
        elif state.state == RUNNING:
            last = state.snapshot.last_batch()
            doing = (
                f"epoch {last.epoch}, batch {last.batch} of {last.batches}"
                if last
                else (state.snapshot.stage() or "starting")
            )
            parts.append(f"{state.rung.name}: {doing}")
    waiting = sum(state.state == WAITING for state in snapshot.rungs)
    if waiting:
        parts.append(f"{waiting} to come")
    parts.extend(_failures(snapshot))
    return " · ".join(parts)


def _failures(snapshot: LadderSnapshot) -> list[str]:
    """Each size that ended without a model, and why."""
    return [
        f"{state.rung.name}: {state.error or state.state}"
        for state in snapshot.rungs
        if state.state not in (DONE, QUEUED, RUNNING, WAITING)
    ]


def ladder_runs(runs: list[StoredRun]) -> list[StoredRun]:
    """The visitor's sizes of their newest ladder, smallest first."""
    laddered = [run for run in runs if isinstance(run.record.get("ladder"), dict)]
    if not laddered:
        return []
    newest = laddered[0].record["ladder"]["id"]
    return [run for run in laddered if run.record["ladder"]["id"] == newest]


def _last_ladder() -> None:
    """The newest finished ladder: the chart (a point opens its run below) and the table."""
    runs = store().runs(visitor(), kind=CLASSIFIER)
    sizes = ladder_runs(runs)
    if not sizes:
        return
    results = [{**run.record["ladder"]["result"], "run_id": run.run_id} for run in sizes]
    report = ladder_report(results, sizes[0].record["ladder"].get("baselines"))
    planned = int(sizes[0].record["ladder"].get("of", len(sizes)))
    missing = (
        f" ({planned - len(sizes)} of the {planned} planned did not finish)" if planned > len(sizes) else ""
    )
    st.markdown(
        f"**Your last ladder**: {len(sizes)} sizes on {md(sizes[0].record.get('source', 'your data'))}{missing}."
    )
    climbed = current_ladder()
    if climbed is not None and climbed.snapshot().is_over and missing:
        for failure in _failures(climbed.snapshot()):
            st.caption(f":material/error: {md(failure)}")
    axis = st.radio("Size as", list(AXES), format_func=lambda key: AXES[key].split(" (")[0], horizontal=True,
                    key="ladder_axis")  # fmt: skip
    event = st.plotly_chart(ladder_chart(report, axis, [run["run_id"] for run in report["runs"]]), key="ladder_chart",
                            on_select="rerun", selection_mode="points")  # fmt: skip
    picked = [
        point["customdata"][0]
        for point in (event.selection.points if event else [])
        if point.get("customdata")
    ]
    if picked and picked[0] != st.session_state.get("ladder_opened"):
        # The results' run picker (keyed by the newest run) opens the size clicked, once: the picker
        # stays the visitor's to change while the point stays selected.
        st.session_state["ladder_opened"] = picked[0]
        st.session_state[f"train_run_choice_{runs[0].run_id}"] = picked[0]
        st.caption("The results below now show the size you clicked.")
    elif not picked:
        st.session_state.pop("ladder_opened", None)
    best = smallest_within(report)
    if best is not None:
        st.success(
            f"The smallest size within one point of the best accuracy is **{md(best['name'])}**: "
            f"{best['params']:,} parameters, {best['val_accuracy']:.1%} (its int8 file: "
            f"{format_bytes(best['int8_bytes'])}, {best['int8_val_accuracy']:.1%})."
        )
    st.dataframe(pd.DataFrame(_table_row(run, index in report["pareto"]) for index, run in enumerate(report["runs"])),
                 hide_index=True, column_config=_COLUMNS)  # fmt: skip
    st.caption(
        f"Predicted int8 bytes are the explorer's one byte per parameter; the measured file adds TensorFlow Lite's "
        f"graph and keeps a few tensors (biases, layer norms) in float. Each size's model.h5 and int8 file download "
        f"from the results below; the server keeps a ladder's sizes together as one run, within {MAX_MB} MB."
    )


_COLUMNS = {
    name: st.column_config.NumberColumn(format="%.3f")
    for name in ("val accuracy", "macro F1", "int8 accuracy", "fp16 accuracy")
}


def _table_row(run: dict, on_front: bool) -> dict:
    predicted = run.get("predicted_bytes", {})
    return {
        "size": run["name"],
        "front": "★" if on_front else "",
        "parameters": f"{run['params']:,}",
        "val accuracy": run["val_accuracy"],
        "macro F1": run["macro_f1"],
        "int8 accuracy": run.get("int8_val_accuracy"),
        "fp16 accuracy": run.get("fp16_val_accuracy"),
        "model.h5": format_bytes(run["model_bytes"]),
        "int8 file (predicted)": f"{format_bytes(run['int8_bytes'])} ({format_bytes(predicted.get('int8', 0))})",
        "fp16 file (predicted)": f"{format_bytes(run['fp16_bytes'])} ({format_bytes(predicted.get('fp16', 0))})",
        "ms per text (int8)": f"{run['predict_ms_per_text']:.2f} ({run.get('int8_predict_ms_per_text') or 0:.2f})",
        "time (predicted)": f"{format_duration(run['seconds'])} ({format_duration(run.get('predicted_seconds', 0))})",
    }
