"""The agent's answers to the server's requests, without a server: every mistake says why."""

from __future__ import annotations

import pytest

from pybirch.agent import Agent, Registration
from pybirch.demo.web_lab import demo_instruments
from pybirch.instruments.catalogue import InstrumentSet
from pybirch.queue import ScanState


@pytest.fixture
def agent(db):
    lab = db.create_lab("Agent Lab")
    agent = Agent("http://127.0.0.1:9", "pbc_unused", db, InstrumentSet(*demo_instruments(0.0)))
    agent.registration = Registration(computer_id=7, lab_id=lab.id, name="Raman PC")
    agent._ready.set()  # as after the first registration
    yield agent
    agent.close()


def design(points: int = 5, **changes) -> dict:
    return {
        "scan_name": "line",
        "axes": [{"instrument": "Stage X", "start": 0, "stop": 1, "points": points}],
        "measurements": ["Lock-in"],
        **changes,
    }


def request(agent: Agent, **changes) -> dict:
    return {
        "lab_id": agent.registration.lab_id,
        "design": design(),
        "queue": {"name": "agent queue"},
        "operator": "mia",
        "start": True,
        **changes,
    }


def test_a_scan_is_queued_started_recorded_and_controlled(agent, db):
    reply = agent.enqueue(request(agent))
    assert reply["ok"], reply
    queue = agent.queues()[0]
    assert queue.wait_for_completion(30)
    assert queue.get_handle(reply["scan_id"]).state is ScanState.COMPLETED
    assert db.get_queue(reply["queue_id"]).extra_data["computer_id"] == 7
    refused = agent.control({"queue_id": reply["queue_id"], "scan_id": None, "action": "resume"})
    assert refused == {"ok": False, "error": "cannot resume the queue while it is idle"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"design": design(measurements=["Nothing"])}, "measure", "no instrument 'Nothing'"),
        ({"design": {"scan_name": "x"}}, "scan", "not a scan design"),
        ({"queue": {"name": " "}}, "new_queue", "name the new queue"),
        ({"queue": {"id": 999}}, "queue", "does not run that queue"),
        ({"sample_id": 123456}, "scan", "Sample"),
    ],
)
def test_a_bad_enqueue_request_is_answered_by_field_and_queues_nothing(
    agent, changes, field, words
):
    reply = agent.enqueue(request(agent, **changes))
    assert reply["ok"] is False
    assert words in reply["errors"][field]
    assert all(len(queue) == 0 for queue in agent.queues())


def test_another_labs_request_and_unknown_controls_are_refused(agent):
    assert "another lab" in agent.enqueue(request(agent, lab_id=999))["errors"]["scan"]
    assert "does not run queue 5" in agent.control({"queue_id": 5, "action": "pause"})["error"]
    assert "bad request" in agent.control({"action": "pause"})["error"]
    reply = agent.enqueue(request(agent, start=False))
    queue_id = reply["queue_id"]
    unknown = agent.control({"queue_id": queue_id, "scan_id": None, "action": "explode"})
    assert unknown == {"ok": False, "error": "unknown queue action 'explode'"}
