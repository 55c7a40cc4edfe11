"""The MiniLM peer benchmark's own parts: the split both sides train on, and its report of ratios."""

from __future__ import annotations

import numpy as np

from benchmarks import minilm_peer


def test_both_sides_train_on_the_apps_split_of_the_headlines_with_minilms_vocabulary():
    dataset, files, config, split = minilm_peer.shared_split(rows=200)
    assert len(dataset.texts) == 200 and config.vocab == 30522 and config.seq_len == minilm_peer.SEQ_LEN
    assert split.train.token_ids.shape[1] == minilm_peer.SEQ_LEN
    assert len(split.validation_labels) == round(200 * minilm_peer.VAL_SHARE)
    assert split.train.token_ids[:, 0].tolist() == [files.vocabulary.tokens.index("[CLS]")] * len(
        split.train_labels
    )
    again = minilm_peer.shared_split(rows=200)[3]  # the same rows and ids each time: the sides agree
    assert np.array_equal(again.train.token_ids, split.train.token_ids)


def _run(side: str, speed: float, accuracy: float, one_ms: float) -> dict:
    return {"side": side, "samples_per_second": speed, "val_accuracy_by_epoch": [accuracy - 0.1, accuracy],
            "predict_ms_one_text": one_ms, "predict_ms_per_text_batch64": one_ms / 2}  # fmt: skip


def test_the_report_gives_medians_and_each_rounds_ratio():
    results = {
        "load_average_at_start": 1.0, "load_average_at_end": 1.5,
        "fine-tune": [
            {"ours": _run("ours", 30.0, 0.91, 20.0), "peer": _run("peer", 20.0, 0.90, 25.0)},
            {"ours": _run("ours", 33.0, 0.91, 22.0), "peer": _run("peer", 30.0, 0.89, 22.0)},
            {"ours": _run("ours", 36.0, 0.92, 21.0), "peer": _run("peer", 30.0, 0.90, 21.0)},
        ],
    }  # fmt: skip
    lines = minilm_peer.report(results).splitlines()
    assert "fine-tune samples_per_second: ours 33.00, peer 30.00, ratio per round 1.50, 1.10, 1.20" in lines
    assert "fine-tune predict_ms_one_text: ours 21.00, peer 22.00, ratio per round 0.80, 1.00, 1.00" in lines
    assert "fine-tune validation accuracy after the last epoch, peer: 0.900, 0.890, 0.900" in lines
