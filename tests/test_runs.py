"""A visitor's finished runs on disk: their own, capped, kept for a stated time, unguessable."""

from __future__ import annotations

import json
import time

import pytest

from bertviz_core.runs import CLASSIFIER, PRETRAINING, RECORD_FILE, RunStore


def finished(store: RunStore, visitor: str, source: str, size: int = 10) -> str:
    folder = store.new_run_folder(visitor)
    (folder / "model.h5").write_bytes(b"x" * size)
    time.sleep(0.002)  # run ids carry milliseconds
    return store.finish_run(visitor, folder, {"source": source}).run_id


def test_runs_belong_to_their_visitor_and_come_newest_first(tmp_path) -> None:
    store = RunStore(tmp_path)
    alice, bob = store.visitor_key("alice's browser token"), store.visitor_key("bob's browser token")
    assert alice != bob and len(alice) == 64
    first, second = finished(store, alice, "one"), finished(store, alice, "two")
    assert [run.run_id for run in store.runs(alice)] == [second, first]
    assert [run.record["source"] for run in store.runs(alice)] == ["two", "one"]
    assert store.runs(bob) == []
    assert json.loads((store.runs(alice)[0].folder / RECORD_FILE).read_text())["source"] == "two"


def test_keys_are_unguessable_outside_this_server(tmp_path) -> None:
    one, other = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    assert one.visitor_key("same token") == one.visitor_key("same token")
    assert one.visitor_key("same token") != other.visitor_key("same token")  # a secret per server


def test_a_run_in_progress_is_not_listed_and_a_failed_one_leaves_nothing(tmp_path) -> None:
    store = RunStore(tmp_path)
    visitor = store.visitor_key("token")
    folder = store.new_run_folder(visitor)
    assert store.runs(visitor) == []
    store.discard_folder(visitor, folder)
    assert not folder.exists()


def test_the_caps_keep_the_newest_runs(tmp_path) -> None:
    store = RunStore(tmp_path, max_runs=2, max_mb=1)
    visitor = store.visitor_key("token")
    ids = [finished(store, visitor, str(index)) for index in range(3)]
    assert [run.run_id for run in store.runs(visitor)] == ids[:0:-1]  # the two newest
    big = [finished(store, visitor, "big", size=700_000) for _ in range(2)]
    assert [run.run_id for run in store.runs(visitor)] == [big[-1]]  # over 1 MB: only the newest stays


def test_a_ladders_sizes_count_as_one_run_and_go_together(tmp_path) -> None:
    store = RunStore(tmp_path, max_runs=2, max_mb=1)
    visitor = store.visitor_key("token")

    def size(ladder: str, index: int, bytes_: int = 10) -> str:
        folder = store.new_run_folder(visitor)
        (folder / "model.h5").write_bytes(b"x" * bytes_)
        time.sleep(0.002)
        return store.finish_run(
            visitor, folder, {"source": "s", "ladder": {"id": ladder, "index": index}}
        ).run_id

    alone = finished(store, visitor, "a training")
    first = [size("one", index) for index in range(4)]
    # Five runs on disk against a cap of two: the ladder counts once, so the training stays.
    assert {run.run_id for run in store.runs(visitor)} == {alone, *first}
    second = [size("two", index) for index in range(3)]
    assert {run.run_id for run in store.runs(visitor)} == {*first, *second}  # the oldest went: the training
    third = [size("three", 0, 700_000), size("three", 1, 700_000)]
    # Over the megabytes, the newest ladder stays whole and the others go whole.
    assert {run.run_id for run in store.runs(visitor)} == set(third)


def test_visitors_not_seen_for_the_kept_time_are_forgotten(tmp_path) -> None:
    store = RunStore(tmp_path, keep_seconds=60)
    gone, here = store.visitor_key("gone"), store.visitor_key("here")
    finished(store, gone, "old")
    finished(store, here, "new")
    assert store.sweep(now=time.time() + 30) == 0
    store.runs(here)  # a visit restarts the clock
    assert store.sweep(now=time.time() + 61) == 2
    assert store.runs(gone) == [] and store.runs(here) == []


def test_folders_outside_a_visitors_own_are_refused(tmp_path) -> None:
    store = RunStore(tmp_path)
    alice, bob = store.visitor_key("a"), store.visitor_key("b")
    bobs = store.new_run_folder(bob)
    with pytest.raises(ValueError):
        store.finish_run(alice, bobs, {})
    with pytest.raises(ValueError):
        store.runs("../../etc")
    store.remove(alice, "../" + bobs.name)  # not a run id: nothing happens
    assert bobs.exists()


def test_runs_of_a_kind_are_listed_apart_and_old_records_are_classifiers(tmp_path) -> None:
    store = RunStore(tmp_path)
    visitor = store.visitor_key("token")
    old = finished(store, visitor, "recorded before runs had a kind")
    folder = store.new_run_folder(visitor)
    (folder / "bert_model.ckpt.index").write_bytes(b"x")
    time.sleep(0.002)
    pretraining = store.finish_run(visitor, folder, {"source": "texts", "kind": PRETRAINING}).run_id
    assert [run.run_id for run in store.runs(visitor)] == [pretraining, old]  # every kind, newest first
    assert [run.run_id for run in store.runs(visitor, kind=CLASSIFIER)] == [old]
    assert [run.run_id for run in store.runs(visitor, kind=PRETRAINING)] == [pretraining]
    assert [run.kind for run in store.runs(visitor)] == [PRETRAINING, CLASSIFIER]
    assert store.runs(visitor, kind="something else") == []


def test_over_the_caps_checkpoints_outlive_older_classifiers(tmp_path):
    store = RunStore(tmp_path, max_runs=3)
    key = store.visitor_key("secret")

    def finish(kind: str) -> str:
        folder = store.new_run_folder(key)
        (folder / "model.h5").write_bytes(b"x")
        return store.finish_run(key, folder, {"kind": kind}).run_id

    checkpoint = finish("checkpoint")
    classifiers = [finish("classifier") for _ in range(3)]
    kept = {run.run_id for run in store.runs(key)}
    # The newest classifier and the checkpoint stay; the oldest classifier went first.
    assert checkpoint in kept and classifiers[-1] in kept and classifiers[0] not in kept


def test_a_page_can_say_which_runs_a_new_one_would_push_out_before_it_is_made(tmp_path):
    store = RunStore(tmp_path, max_runs=3, max_mb=1)
    key = store.visitor_key("secret")
    ids = [finished(store, key, str(index)) for index in range(3)]
    assert [run.run_id for run in store.would_drop(key, adding_mb=0.01)] == [ids[0]]  # one run too many
    dropped_by_size = store.would_drop(key, adding_mb=1.0)
    assert {run.run_id for run in dropped_by_size} == set(ids)  # the new one alone fills the megabyte
    # What it says is what finishing does.
    new = finished(store, key, "new", size=10)
    assert {run.run_id for run in store.runs(key)} == {new, *ids[1:]}
    assert RunStore(tmp_path / "other").would_drop(RunStore(tmp_path / "other").visitor_key("x"), 1) == []
