"""The browser follows a VISA instrument unplugged mid-scan and plugged back.

The server runs in this process (a Werkzeug server in a thread) so that the test holds the
plug of its pyvisa-sim lock-in: the dashboard shows the lock-in disconnected with its error
and the scan paused, then both back once the plug is in again; the instruments page shows
the same picture.
"""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from browser_support import ARTIFACTS, chromium, free_port, logged_in, require_chromium
from pybirch.database import DatabaseService
from pybirch.database.models import Role
from pybirch.instruments.drivers import SR830, Keithley2400CurrentSource
from pybirch.instruments.simulated import KEITHLEY2400_RESOURCE, SIM_BACKEND, SR830_RESOURCE
from pybirch.queue import ScanState
from pybirch.station import StationIdentity
from pybirch.station.wire import answer_enqueue
from visa_unplug import VisaPlug
from web_support import PASSWORD, add_member, make_app

TIMEOUT_MS = 30_000


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """A server whose own station has a pyvisa-sim source and lock-in; yields what tests need."""
    require_chromium()
    monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "1")
    monkeypatch.setenv("AUTO_RECONNECT_ATTEMPTS", "60")  # waits for the test to plug it back
    db = DatabaseService(f"sqlite:///{tmp_path}/bench.db", auto_upgrade=True)
    lab = db.create_lab("Transport Lab")
    add_member(db, lab.id, "ana", Role.MEMBER)
    computer = db.register_computer({"computer_name": "BENCH-PC", "computer_id": "bench"}, lab.id)
    app = make_app(db)
    station = app.extensions["pybirch.station"]
    station.identity = StationIdentity(computer.id, "BENCH-PC", lab.id)
    source = Keithley2400CurrentSource("Source", adapter=KEITHLEY2400_RESOURCE, backend=SIM_BACKEND)
    lockin = SR830("Lock-in", adapter=SR830_RESOURCE, backend=SIM_BACKEND)
    station.instruments.add(source)
    station.instruments.add(lockin)
    station.register_offered([source, lockin])
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        yield {
            "url": f"http://127.0.0.1:{server.server_port}",
            "station": station,
            "lab": lab,
            "db": db,
        }
    finally:
        server.shutdown()
        station.close()
        db.close()


def test_the_dashboard_follows_a_lock_in_unplugged_mid_scan_and_plugged_back(bench, monkeypatch):
    plug = VisaPlug(SR830_RESOURCE, monkeypatch)
    plug.pull_on("SNAP? 1,2,3,4", occurrence=30)
    station, lab = bench["station"], bench["lab"]
    with chromium() as browser:
        page = logged_in(browser, bench["url"], "ana", PASSWORD)
        lockin = page.locator("#dashboard-live tr[data-instrument='Lock-in']")
        lockin.locator(".status", has_text="connected").wait_for(timeout=TIMEOUT_MS)
        assert "BENCH-PC" in lockin.inner_text()

        reply = answer_enqueue(
            station,
            {
                "lab_id": lab.id,
                "design": {
                    "scan_name": "iv sweep",
                    "axes": [{"instrument": "Source", "start": 0, "stop": 1e-3, "points": 60}],
                    "measurements": ["Lock-in"],
                },
                "queue": {"name": "bench queue"},
                "start": True,
            },
        )
        assert reply["ok"], reply
        queue = station.queue(reply["queue_id"])
        # unplugged at the 30th point: live, without a reload, the scan pauses and the
        # lock-in turns disconnected with the reason under its badge
        lockin.locator(".status", has_text="disconnected").wait_for(timeout=TIMEOUT_MS)
        running_now = page.locator("#dashboard-live section").first
        running_now.locator(".status", has_text="paused").wait_for(timeout=TIMEOUT_MS)
        why = running_now.locator(".why", has_text="Lock-in stopped answering")
        why.wait_for(timeout=TIMEOUT_MS)
        error = lockin.locator(".last-error")
        assert error.is_visible()
        assert "VI_ERROR_CONN_LOST" in error.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "health-unplugged.png"), full_page=True)
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(ARTIFACTS / "health-unplugged-dark.png"), full_page=True)
        page.emulate_media(color_scheme="light")
        assert queue.get_handle(reply["scan_id"]).state is ScanState.PAUSED

        plug.put_back()
        assert queue.wait_for_completion(60)
        assert queue.get_handle(reply["scan_id"]).state is ScanState.COMPLETED
        # live again: the scan leaves "Running now", both instruments are connected again
        running_now.locator(".empty", has_text="Nothing is running").wait_for(timeout=TIMEOUT_MS)
        for name in ("Lock-in", "Source"):
            row = page.locator(f"#dashboard-live tr[data-instrument='{name}']")
            row.locator(".status", has_text="connected").wait_for(timeout=TIMEOUT_MS)
        assert not error.is_visible()  # the dashboard shows an error only while it lasts
        page.screenshot(path=str(ARTIFACTS / "health-plugged-back.png"), full_page=True)

        page.goto(f"{bench['url']}/instruments/?lab={lab.id}")
        row = page.locator("#instruments-live tr[data-instrument='Lock-in']")
        assert row.locator(".status").inner_text() == "connected"
        assert "VI_ERROR_CONN_LOST" in row.locator(".last-error").inner_text()
        assert "BENCH-PC" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "health-instruments.png"), full_page=True)


def test_an_instruments_page_follows_its_status_without_a_reload(bench, monkeypatch):
    plug = VisaPlug(SR830_RESOURCE, monkeypatch)
    db, lab = bench["db"], bench["lab"]
    (record,) = db.search_instruments("Lock-in", lab_id=lab.id).items
    with chromium() as browser:
        page = logged_in(browser, bench["url"], "ana", PASSWORD)
        page.goto(f"{bench['url']}/instruments/{record.id}")
        page.locator("#instrument-status.connected").wait_for(timeout=TIMEOUT_MS)
        plug.pull_on("*IDN?", occurrence=plug.sent.get("*IDN?", 0) + 1)  # the next check fails
        badge = page.locator("#instrument-status.disconnected")
        badge.wait_for(timeout=TIMEOUT_MS)
        assert badge.inner_text() == "disconnected"
        card = page.locator(".facts dd[data-instrument='Lock-in'] .status")  # its computer's card
        assert card.inner_text() == "disconnected"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "health-instrument-page-unplugged.png"))
        plug.put_back()
        page.locator("#instrument-status.connected").wait_for(timeout=TIMEOUT_MS)
