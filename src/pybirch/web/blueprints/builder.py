"""The scan builder: compose a scan from a computer's instruments, queue it, start it.

The computer is this server (its own instruments, the embedded shape) or a lab computer
whose agent is connected; the agent builds the scan from the design and answers with the
scan's id or with what is wrong, field by field, exactly as this server would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from pybirch.database.errors import NotFoundError
from pybirch.database.models import Computer, Role
from pybirch.database.services.queues import QueueRunningError
from pybirch.database_integration import DatabaseQueue, to_pybirch_sample
from pybirch.errors import PyBirchError
from pybirch.queue import QueueState, QueueStateError
from pybirch.realtime.agent_protocol import ENQUEUE
from pybirch.scan import Scan
from pybirch.scan.design import MAX_AXES, DesignError, ScanDesign, build_settings
from pybirch.web.agents import (
    AgentUnavailable,
    agent_instruments,
    agent_queues,
    ask_agent,
    online_computer,
    online_computers,
)
from pybirch.web.auth.access import chosen_lab, require_lab_role
from pybirch.web.builder import design_from_form
from pybirch.web.runtime import local_instruments, local_queues
from pybirch.web.services import database

blueprint = Blueprint("builder", __name__, url_prefix="/builder")

#: The ``computer`` value that means this server itself.
THIS_SERVER = "local"


@dataclass(frozen=True)
class QueueChoice:
    """A queue the new scan can join."""

    id: int
    name: str
    state: str


@blueprint.route("/")
@login_required
def form() -> str:
    """The builder form for one of the user's labs and one of its computers."""
    labs, lab = chosen_lab()
    if lab is None:
        return render_template("no_lab.html")
    require_lab_role(lab.id, Role.MEMBER)
    return _render(lab.id, labs, request.args.get("computer"), errors={}, values={})


@blueprint.route("/<int:lab_id>", methods=["POST"])
@login_required
def build(lab_id: int) -> str | Response:
    """Make the scan on the chosen computer, add it to a queue, and start it if asked."""
    require_lab_role(lab_id, Role.MEMBER)
    choice = request.form.get("computer") or THIS_SERVER
    try:
        design = design_from_form(request.form, request.form.getlist("measure"))
        sample_pk = _sample_pk(lab_id, request.form.get("sample_id", type=int))
        if choice == THIS_SERVER:
            scan_id, queue_name = _build_here(lab_id, design, sample_pk)
        else:
            scan_id, queue_name = _build_on_agent(lab_id, choice, design, sample_pk)
    except PyBirchError as exc:  # a DesignError says which field; others are about the scan
        errors = exc.errors if isinstance(exc, DesignError) else {"scan": str(exc)}
        labs = database().labs_of_user(current_user.id)
        return _render(lab_id, labs, choice, errors, request.form), 400  # type: ignore[return-value]
    flash(f"Scan {design.scan_name!r} added to queue {queue_name!r}.", "info")
    return redirect(url_for("scans.detail", scan_id=scan_id))


def _build_here(lab_id: int, design: ScanDesign, sample_pk: int | None) -> tuple[str, str]:
    settings = build_settings(design, local_instruments())
    sample = None if sample_pk is None else to_pybirch_sample(database().get_sample(sample_pk))
    queue = _local_queue(lab_id, request.form.get("queue"), request.form.get("new_queue", ""))
    handle = queue.enqueue(Scan(settings, sample))
    if request.form.get("action") == "start" and queue.state is QueueState.IDLE:
        queue.start()
    return handle.scan_id, queue.QID


def _build_on_agent(
    lab_id: int, choice: str, design: ScanDesign, sample_pk: int | None
) -> tuple[str, str]:
    computer = _online_computer(lab_id, choice)
    queue_choice = request.form.get("queue") or "new"
    if queue_choice == "new":
        name = request.form.get("new_queue", "").strip()
        if not name:
            raise DesignError({"new_queue": "name the new queue"})
        queue: dict[str, Any] = {"name": name}
    elif queue_choice.isdigit():
        queue = {"id": int(queue_choice)}
    else:
        raise DesignError({"queue": "choose a queue"})
    try:
        reply = ask_agent(
            computer,
            ENQUEUE,
            {
                "lab_id": lab_id,
                "design": design.to_dict(),
                "sample_id": sample_pk,
                "queue": queue,
                "operator": current_user.username,
                "start": request.form.get("action") == "start",
            },
        )
    except AgentUnavailable as exc:
        raise DesignError({"computer": str(exc)}) from exc
    if not reply.get("ok"):
        raise DesignError(reply.get("errors") or {"scan": str(reply.get("error"))})
    return str(reply["scan_id"]), str(reply.get("queue_name", ""))


def _render(
    lab_id: int, labs: list, choice: str | None, errors: dict[str, str], values: object
) -> str:
    db = database()
    computers = online_computers(lab_id)
    here = local_instruments()
    computer = None
    if choice != THIS_SERVER and computers and (choice or not here.all()):
        computer = next((c for c in computers if str(c.id) == choice), computers[0])
    if computer is None:
        movements, measurements = here.movements(), here.measurements()
        queues = [
            QueueChoice(q.db_queue_id, q.QID, q.state.value) for q in local_queues().in_lab(lab_id)
        ]
    else:
        instruments = agent_instruments(computer)
        movements = [i for i in instruments if i.kind == "movement"]
        measurements = [i for i in instruments if i.kind == "measurement"]
        queues = [QueueChoice(q["id"], q["name"], q["state"]) for q in agent_queues(computer)]
    return render_template(
        "builder.html",
        lab=db.get_lab(lab_id),
        labs=labs,
        computers=computers,
        computer=computer,
        has_local=bool(here.all()),
        movements=movements,
        measurements=measurements,
        queues=queues,
        projects=db.search_projects(lab_id=lab_id, per_page=500).items,
        samples=db.search_samples(lab_id=lab_id, per_page=500).items,
        axes=range(1, MAX_AXES + 1),
        errors=errors,
        values=values,
    )


def _online_computer(lab_id: int, choice: str) -> Computer:
    computer = online_computer(lab_id, int(choice)) if choice.isdigit() else None
    if computer is None:
        raise DesignError({"computer": "that computer is not connected"})
    return computer


def _sample_pk(lab_id: int, sample_pk: int | None) -> int | None:
    if not sample_pk:
        return None
    try:
        record = database().get_sample(sample_pk)
    except NotFoundError:
        raise DesignError({"sample_id": "no such sample"}) from None
    if record.lab_id != lab_id:
        raise DesignError({"sample_id": "no such sample"})
    return record.id


def _local_queue(lab_id: int, choice: str | None, new_name: str) -> DatabaseQueue:
    queues = local_queues()
    if choice and choice != "new":
        queue = queues.get(int(choice)) if choice.isdigit() else None
        if queue is None or queue.lab_id != lab_id:
            raise DesignError({"queue": "that queue is not run by this server"})
        return queue
    name = new_name.strip()
    if not name:
        raise DesignError({"new_queue": "name the new queue"})
    if name in {queue.QID for queue in queues.in_lab(lab_id)}:
        raise DesignError(
            {"new_queue": f"a queue {name!r} runs in this lab already; choose it in the list"}
        )
    try:
        queue = DatabaseQueue(name, database(), operator=current_user.username, lab_id=lab_id)
    except (QueueStateError, QueueRunningError) as exc:  # run by another process or computer
        raise DesignError({"new_queue": str(exc)}) from exc
    return queues.add(queue)
