"""The newcomer's commands: reset a password, export by a short id, a taken port, and
scans stored from Python that the web UI shows."""

from __future__ import annotations

import re
import socket

import pytest
from click.testing import CliRunner

from database_builders import line_scan
from pybirch.cli.main import cli
from pybirch.database.models import Role
from pybirch.database_integration import DatabaseQueue
from pybirch.web.first_run import ensure_first_admin
from web_support import client_for, log_in, make_app


def test_reset_password_prints_a_one_time_password_and_ends_every_session(db, database_url):
    lab = db.create_lab("Rescue Lab")
    browser = client_for(db, lab, "ada", Role.OWNER)
    assert browser.get("/").status_code == 200

    result = CliRunner().invoke(cli, ["admin", "reset-password", "ada", "--database", database_url])

    assert result.exit_code == 0, result.output
    password = re.search(r"New one-time password of ada: (\S+)", result.output).group(1)
    assert db.get_user_by_username("ada").must_change_password
    assert browser.get("/").status_code == 302  # the old session has ended
    fresh = make_app(db).test_client()
    assert log_in(fresh, "ada", password).status_code == 302
    assert fresh.get("/").headers["Location"].endswith("/account/new-password")


def test_reset_password_of_an_unknown_user_says_so(db, database_url):
    result = CliRunner().invoke(
        cli, ["admin", "reset-password", "nobody", "--database", database_url]
    )
    assert result.exit_code == 1
    assert "no user called 'nobody'" in result.output


def test_export_takes_a_unique_prefix_and_lists_the_matches_of_an_ambiguous_one(
    db, database_url, tmp_path
):
    for scan_id in ("abc12300000000000000000000000001", "abc45600000000000000000000000002"):
        db.create_scan("IV", scan_id=scan_id)
    export = ["export", "--output", str(tmp_path), "--database", database_url]

    ambiguous = CliRunner().invoke(cli, [*export, "abc"])
    assert ambiguous.exit_code == 1
    assert "'abc' starts the id of several scans" in ambiguous.output
    assert "abc12300000000000000000000000001" in ambiguous.output
    assert "abc45600000000000000000000000002" in ambiguous.output

    unique = CliRunner().invoke(cli, [*export, "abc456"])
    # Found by its full id: it has no measurement to write, which the export says.
    assert "scan abc45600000000000000000000000002 (IV) has no measurements" in unique.output

    assert "not found" in CliRunner().invoke(cli, [*export, "fff"]).output
    assert "not found" in CliRunner().invoke(cli, [*export, "a%"]).output


def test_serve_on_a_taken_port_says_what_to_do_before_starting_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["serve", "--port", str(port), "--database", f"sqlite:///{tmp_path}/x.db"]
        )
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.output
    assert "Ctrl-C" in result.output
    assert "--port" in result.output
    assert "PyBirch on http" not in result.output
    assert "admin" not in result.output  # no account was made either
    assert not (tmp_path / "x.db").exists()


@pytest.fixture
def embedded(tmp_path):
    from pybirch.database import DatabaseService

    with DatabaseService(f"sqlite:///{tmp_path}/lab.db") as service:
        yield service


def test_a_queue_from_python_lands_in_the_first_admins_lab_on_an_embedded_database(embedded):
    first = ensure_first_admin(embedded, "a long admin password")
    queue = DatabaseQueue("script", embedded, operator="alice")  # no lab given
    handle = queue.enqueue(line_scan("From a notebook", points=5))
    queue.start()
    assert queue.wait_for_completion(timeout=30)
    queue.close()

    lab = embedded.get_lab_by_name(first.lab_name)
    assert embedded.get_scan(handle.scan_id).lab_id == lab.id
    browser = make_app(embedded).test_client()
    log_in(browser, "admin", "a long admin password")
    assert "From a notebook" in browser.get(f"/scans/?lab={lab.id}").get_data(as_text=True)
    assert DatabaseQueue.from_database(embedded, "script").lab_id == lab.id


def test_the_terminal_demo_stores_in_the_lab_the_first_server_start_adopts(tmp_path):
    url = f"sqlite:///{tmp_path}/demo.db"
    result = CliRunner().invoke(
        cli, ["demo", "--fast", "--output", str(tmp_path / "csv"), "--database", url]
    )
    assert result.exit_code == 0, result.output
    assert "lab 'My Lab'" in result.output
    short = re.search(r"pybirch export (\w+) --format hdf5", result.output).group(1)
    assert len(short) == 8

    from pybirch.database import DatabaseService

    with DatabaseService(url) as db:
        first = ensure_first_admin(db, "a long admin password")
        lab = db.get_lab_by_name(first.lab_name)
        assert db.search_scans(lab_id=lab.id).total == 2
    exported = CliRunner().invoke(
        cli, ["export", short, "--output", str(tmp_path / "out"), "--database", url]
    )
    assert exported.exit_code == 0, exported.output


def test_a_named_lab_is_used_and_an_unknown_one_refused(embedded):
    lab = embedded.create_lab("Optics")
    assert DatabaseQueue("named", embedded, lab="Optics").lab_id == lab.id
    assert DatabaseQueue("by-id", embedded, lab=lab.id).lab_id == lab.id
    from pybirch.database.errors import NotFoundError

    with pytest.raises(NotFoundError):
        DatabaseQueue("lost", embedded, lab="Nowhere")
