"""The seed plan's "Example: Auto-Discovery on Startup", run as written.

Only the imports are adapted, the computer's name is this computer's (the seed's example
runs on ``LABPC-01``), and ``instrument_manager`` is the :class:`InstrumentSet` a station
offers scans from. The set-up block (not in the seed) binds the demo's simulated
instruments to this computer in a fresh database, as a lab admin does once on the
computer's Instruments page; every later start finds them as below.

Run it from any directory::

    python examples/auto_discovery.py

It writes ``pybirch_discovery.db`` (SQLite) in the current directory and prints the
instruments it set up, with their adapters and settings.
"""

# The seed's imports follow the set-up block.
# ruff: noqa: E402

# --- set-up (not in the seed): this computer, a lab, instruments bound to it -----------
from pathlib import Path

from pybirch.database import DatabaseService
from pybirch.demo.web_lab import bind_demo_instruments

DATABASE = "pybirch_discovery.db"
Path(DATABASE).unlink(missing_ok=True)  # a fresh start every run

db_service = DatabaseService(DATABASE)
from pybirch.definitions import get_computer_info

this_computer = db_service.register_computer(get_computer_info())
lab = db_service.create_lab("Discovery Lab")
bind_demo_instruments(db_service, lab.id, this_computer.id)

from pybirch.instruments.catalogue import InstrumentSet

instrument_manager = InstrumentSet()

# --- the seed's example ---------------------------------------------------------------
from pybirch.definitions import InstrumentFactory

computer_info = get_computer_info()
# {'computer_name': 'LABPC-01', 'computer_id': '...', 'username': 'researcher'}

# Query database for instruments bound to this computer
bindings = db_service.get_computer_bindings(computer_name=computer_info["computer_name"])

# Create instances from definitions
for binding in bindings:
    instrument = InstrumentFactory.create_instance(
        binding["instrument"]["definition"], adapter=binding["adapter"]
    )
    instrument.settings = binding.get("last_settings", {})
    instrument_manager.add_configured(instrument)

# --- what it found (not in the seed) -----------------------------------------------------
for instrument in instrument_manager.all():
    print(f"{instrument.name:<16} {type(instrument).__name__:<20} settings {instrument.settings}")
db_service.close()
