"""Saving a queue to JSON and rebuilding it, with its scans, samples, history and log."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from pybirch.queue import (
    ExecutionMode,
    Queue,
    QueueError,
    QueueState,
    Sample,
    ScanState,
)
from pybirch.scan import ScanDefinitionError
from queue_lab import PATIENCE, Lab, Meter


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


def _sample(sample_id: str) -> Sample:
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    return Sample(sample_id, "graphene", ["exfoliated"], image=image)


def _ran_queue(lab: Lab) -> Queue:
    """A parallel queue with one completed, one failed, one aborted and two queued scans."""
    queue = lab.queue(ExecutionMode.PARALLEL, max_parallel_scans=2)
    broken = Meter("broken")
    broken.fail_at = 2
    queue.enqueue(lab.scan("done", sample=_sample("S1")))
    queue.enqueue(lab.scan("bad", meter=broken, sample=_sample("S2")))
    skipped = queue.enqueue(lab.scan("skipped"))
    queue.abort_scan(skipped.scan_id)
    queue.start()
    assert queue.wait_for_completion(PATIENCE)
    queue.enqueue(lab.scan("next", points=7, sample=_sample("S3")))
    queue.enqueue(lab.scan("last", points=3))
    return queue


def test_json_round_trip_keeps_scans_samples_and_history(lab: Lab) -> None:
    queue = _ran_queue(lab)
    text = queue.to_json()
    restored = Queue.from_json(text)

    assert restored.QID == queue.QID
    assert restored.mode is ExecutionMode.PARALLEL
    assert restored.max_parallel_scans == 2
    assert restored.state is QueueState.IDLE
    before, after = queue.handles, restored.handles
    assert [h.scan_id for h in after] == [h.scan_id for h in before]
    assert [h.state for h in after] == [
        ScanState.COMPLETED,
        ScanState.FAILED,
        ScanState.ABORTED,
        ScanState.QUEUED,
        ScanState.QUEUED,
    ]
    for old, new in zip(before, after, strict=True):
        assert new.scan is not old.scan
        assert new.scan.settings.to_dict() == old.scan.settings.to_dict()
        assert new.scan.sample == old.scan.sample
        assert new.progress == old.progress
        assert new.added_at == old.added_at
        assert new.started_at == old.started_at
        assert new.finished_at == old.finished_at
        assert new.error_message == old.error_message
    assert after[1].error_message == "RuntimeError: broken broke at reading 2"
    assert after[0].scan.sample.image.shape == (4, 5, 3)
    assert [e.to_dict() for e in restored.get_logs()] == [e.to_dict() for e in queue.get_logs()]
    # Saving the rebuilt queue gives the same document.
    assert restored.serialize() == json.loads(text)


def test_rebuilt_queue_runs_its_queued_scans_and_keeps_history(lab: Lab) -> None:
    restored = Queue.from_json(_ran_queue(lab).to_json())
    history = restored.handles[:3]
    restored.start()
    assert restored.wait_for_completion(PATIENCE)
    assert [h.state for h in restored.handles] == [
        ScanState.COMPLETED,
        ScanState.FAILED,
        ScanState.ABORTED,
        ScanState.COMPLETED,
        ScanState.COMPLETED,
    ]
    assert all(h.scan.state is ScanState.QUEUED for h in history)  # history never reruns
    assert restored.handles[3].scan.points_done == 7
    assert restored.get_status()["counts"]["completed"] == 3


def test_a_scan_saved_while_running_comes_back_as_interrupted(lab: Lab) -> None:
    queue = lab.queue()
    gate = lab.gate()
    running = queue.enqueue(lab.scan("a", gate=gate))
    queue.enqueue(lab.scan("b"))
    queue.start()
    gate.wait_reached()
    data = queue.serialize()
    assert data["state"] == "running"
    restored = Queue.deserialize(json.loads(json.dumps(data)))
    first, second = restored.handles
    assert first.scan_id == running.scan_id
    assert first.state is ScanState.ABORTED
    assert "interrupted" in (first.error_message or "")
    assert second.state is ScanState.QUEUED
    assert restored.state is QueueState.IDLE


def test_serialize_is_json_able(lab: Lab) -> None:
    data = _ran_queue(lab).serialize()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["format"] == "pybirch.queue"
    assert data["scans"][0]["scan"]["sample"]["ID"] == "S1"
    assert isinstance(data["scans"][0]["scan"]["sample"]["image"], str)


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: d.update(format="other"), QueueError, "not a saved PyBirch queue"),
        (lambda d: d.update(version=99), QueueError, "version 99"),
        (lambda d: d.pop("queue_id"), QueueError, "invalid queue description"),
        (lambda d: d["scans"][0].update(state="exploded"), QueueError, "invalid"),
        (
            lambda d: d["scans"][0]["scan"]["settings"].pop("scan_tree"),
            ScanDefinitionError,
            "scan_tree",
        ),
    ],
)
def test_bad_documents_raise_clear_errors(lab: Lab, mutate, error, message: str) -> None:
    data = _ran_queue(lab).serialize()
    mutate(data)
    with pytest.raises(error, match=message):
        Queue.deserialize(data)


def test_from_json_rejects_text_that_is_not_json() -> None:
    with pytest.raises(QueueError, match="JSON"):
        Queue.from_json("{not json")


def test_a_sample_that_is_not_a_sample_cannot_be_saved(lab: Lab) -> None:
    queue = lab.queue()
    queue.enqueue(lab.scan("a", sample="S1"))  # type: ignore[arg-type]
    with pytest.raises(QueueError, match="type str"):
        queue.serialize()


def test_duplicate_scan_ids_are_rejected(lab: Lab) -> None:
    data = _ran_queue(lab).serialize()
    data["scans"][4]["scan_id"] = data["scans"][3]["scan_id"]
    with pytest.raises(QueueError, match="already in the queue"):
        Queue.deserialize(data)
