"""``pybirch definitions``: import driver files, export standalone drivers, builtins, tests."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from definition_examples import SEED_LOCKIN_CODE
from pybirch.cli.main import cli
from pybirch.database import DatabaseService
from pybirch.definitions.builtin import (
    BUILTIN_DRIVERS,
    builtin_drivers,
    sync_builtin_definitions,
)

SR830_DEVICE = (BUILTIN_DRIVERS / "sr830_lockin.yaml").read_text(encoding="utf-8")
SR830_RESOURCE = "GPIB0::8::INSTR"

#: A driver that imports a module stored code may not (line 3).
BAD_IMPORT_CODE = '''"""A meter that wants the operating system."""

import os

from pybirch.instruments import FakeMeasurementInstrument


class Snooper(FakeMeasurementInstrument):
    def _perform_measurement_impl(self):
        return os.getcwd()
'''

#: Two drivers in one module: a definition holds one, so neither is stored.
TWO_CLASSES_CODE = """from pybirch.instruments import FakeMeasurementInstrument
from pybirch.instruments import FakeMovementInstrument


class MeterA(FakeMeasurementInstrument):
    def _perform_measurement_impl(self):
        return np.zeros((1, 1))


class StageB(FakeMovementInstrument):
    pass
"""

#: A module without a driver: skipped, not a failure.
HELPER_CODE = "GAIN = 2.0\n"

PASSING_TEST = """def test(instrument):
    assert instrument.connect()
    data = instrument.perform_measurement()
    assert data.shape == (1, 4)
"""

FAILING_TEST = """def test(instrument):
    assert instrument.connect()
    assert instrument.perform_measurement()[0][0] > 1.0, "X is far too small"
"""


@pytest.fixture
def lab(db: DatabaseService) -> SimpleNamespace:
    """The lab Optics with its owner (who imports) and a second admin."""
    optics = db.create_lab("Optics")
    owner, admin = db.create_user("olga"), db.create_user("adam")
    db.set_membership(optics.id, owner.id, "owner")
    db.set_membership(optics.id, admin.id, "admin")
    return SimpleNamespace(id=optics.id, owner=owner.id, admin=admin.id)


@pytest.fixture
def drivers(tmp_path: Path) -> Path:
    """A folder of driver files: a valid lock-in, a bad import, two classes, a helper."""
    folder = tmp_path / "drivers"
    folder.mkdir()
    (folder / "lockin.py").write_text(SEED_LOCKIN_CODE, encoding="utf-8")
    (folder / "snooper.py").write_text(BAD_IMPORT_CODE, encoding="utf-8")
    (folder / "pair.py").write_text(TWO_CLASSES_CODE, encoding="utf-8")
    (folder / "helpers.py").write_text(HELPER_CODE, encoding="utf-8")
    return folder


def run(database_url: str, *args: str) -> Result:
    """``pybirch definitions ARGS --database URL``, output on a wide terminal."""
    return CliRunner(env={"COLUMNS": "250"}).invoke(
        cli, ["definitions", *args, "--database", database_url]
    )


def rows(result: Result) -> dict[str, str]:
    """The import table's rows by file and class: ``"lockin.py MyLockIn" -> "stored v1"``."""
    found = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip("│┃").split("│")]
        if len(cells) == 3 and cells[0].endswith(".py"):
            found[f"{cells[0]} {cells[1]}".strip()] = cells[2]
    return found


def lab_definitions(db: DatabaseService, lab_id: int) -> dict[str, object]:
    return {
        d.name: d
        for d in db.get_instrument_definitions(lab_id, include_public=False, include_builtin=False)
    }


# -- import --------------------------------------------------------------------------------


def test_dry_run_reports_every_file_and_stores_nothing(db, database_url, lab, drivers) -> None:
    result = run(database_url, "import", str(drivers), "--lab", "Optics", "--dry-run")
    assert result.exit_code == 1, result.output  # snooper.py and pair.py do not validate
    table = rows(result)
    assert table["lockin.py MyLockIn"] == "would be stored v1"
    assert table["snooper.py Snooper"].startswith('invalid: import of "os" is not allowed')
    assert table["snooper.py Snooper"].endswith("(line 3)")
    assert table["pair.py MeterA"].startswith("invalid: a definition holds one driver class")
    assert table["pair.py StageB"].startswith("invalid:")
    assert table["helpers.py"] == "no driver class"
    assert lab_definitions(db, lab.id) == {}


def test_import_stores_valid_drivers_with_their_fields_and_reimport_changes_nothing(
    db, database_url, lab, drivers
) -> None:
    first = run(database_url, "import", str(drivers), "--lab", "Optics")
    assert first.exit_code == 1
    assert rows(first)["lockin.py MyLockIn"] == "stored v1"
    stored = lab_definitions(db, lab.id)
    assert list(stored) == ["MyLockIn"]
    lockin = stored["MyLockIn"]
    assert (lockin.instrument_type, lockin.base_class, lockin.created_by_id) == (
        "measurement",
        "VisaBaseMeasurementInstrument",
        lab.owner,
    )
    assert lockin.data_columns == ["X", "Y", "R", "Theta"]
    assert lockin.data_units == ["V", "V", "V", "deg"]
    assert lockin.default_settings == {"sensitivity": 1e-6, "time_constant": 0.1}
    version = db.get_definition_version(lockin.id, 1, lab_id=lab.id)
    assert (version.source_code, version.status) == (SEED_LOCKIN_CODE, "pending")

    again = run(database_url, "import", str(drivers / "lockin.py"), "--lab", "Optics")
    assert again.exit_code == 0, again.output
    assert rows(again) == {"lockin.py MyLockIn": "unchanged"}
    assert db.get_instrument_definition(lockin.id, lab_id=lab.id).version == 1

    (drivers / "lockin.py").write_text(SEED_LOCKIN_CODE.replace("0.1", "0.3"), encoding="utf-8")
    changed = run(database_url, "import", str(drivers / "lockin.py"), "--user", "adam")
    assert changed.exit_code == 0, changed.output  # the only lab is the default
    assert rows(changed) == {"lockin.py MyLockIn": "new version v2"}
    latest = db.get_definition_version(lockin.id, 2, lab_id=lab.id)
    assert (latest.created_by_id, latest.status) == (lab.admin, "pending")
    assert db.get_instrument_definition(lockin.id, lab_id=lab.id).default_settings == {
        "sensitivity": 1e-6,
        "time_constant": 0.3,
    }


def test_import_refuses_an_unknown_lab_or_a_user_outside_it(db, database_url, lab, drivers):
    unknown_lab = run(database_url, "import", str(drivers), "--lab", "Nowhere")
    assert unknown_lab.exit_code == 1
    assert "no lab called 'Nowhere'" in unknown_lab.output
    db.create_user("eve")
    stranger = run(database_url, "import", str(drivers), "--user", "eve")
    assert stranger.exit_code == 1
    assert "'eve' is no writing member of lab 'Optics'" in stranger.output
    assert lab_definitions(db, lab.id) == {}


# -- export --------------------------------------------------------------------------------


def test_export_writes_files_that_import_and_run_outside_the_database(
    db, database_url, lab, drivers, tmp_path, monkeypatch
) -> None:
    sync_builtin_definitions(db)
    run(database_url, "import", str(drivers / "lockin.py"))
    out = tmp_path / "exported"
    result = run(database_url, "export", str(out), "--lab", "Optics")
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.glob("*.py"))
    assert files == ["MyLockIn.py", "SR830LockIn.py", "ScpiMultimeter.py", "ScpiStage.py"]
    assert "MyLockIn v1  (not approved)" in result.output

    code = (out / "MyLockIn.py").read_text(encoding="utf-8")
    header, _, body = code.partition("\n\n")
    assert "'MyLockIn' (lab" in header
    assert "version 1, NOT APPROVED (pending)" in header
    version = db.get_definition_version(
        lab_definitions(db, lab.id)["MyLockIn"].id, 1, lab_id=lab.id
    )
    assert f"code sha256 {version.code_hash}" in header
    assert body.startswith(
        "import numpy as np\nfrom pybirch.instruments import VisaBaseMeasurementInstrument\n"
    )
    # a builtin driver imports what it uses itself: nothing is added
    builtin = (out / "ScpiStage.py").read_text(encoding="utf-8")
    assert builtin.partition("\n\n")[2].lstrip().startswith('"""A SCPI linear stage')

    monkeypatch.setenv("PYBIRCH_VISA_BACKEND", f"{BUILTIN_DRIVERS / 'sr830_lockin.yaml'}@sim")
    for path in out.glob("*.py"):
        module = _import_file(path, f"exported_{path.stem}_{id(path)}")
        instrument = getattr(module, path.stem)(name=f"exported {path.stem}")
        assert instrument.name == f"exported {path.stem}"
    lockin = _import_file(out / "MyLockIn.py", "exported_lockin_run").MyLockIn(
        "lock-in", SR830_RESOURCE
    )
    assert lockin.connect()
    assert lockin.perform_measurement().tolist() == [[3e-4, 4e-4, 5e-4, 53.1301]]
    lockin.shutdown()


def _import_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


# -- builtin definitions -------------------------------------------------------------------


def test_builtin_sync_is_idempotent_and_a_changed_driver_is_a_new_approved_version(db) -> None:
    first = sync_builtin_definitions(db)
    assert sorted(first.created) == ["SR830LockIn", "ScpiMultimeter", "ScpiStage"]
    assert first.invalid == {}
    second = sync_builtin_definitions(db)
    assert not second.changed
    assert sorted(second.unchanged) == sorted(first.created)

    builtins = {d.name: d for d in db.get_instrument_definitions(None)}
    stage = builtins["ScpiStage"]
    assert (stage.is_builtin, stage.lab_id, stage.version, stage.approved_version) == (
        True,
        None,
        1,
        1,
    )
    assert (stage.instrument_type, stage.position_column, stage.position_units) == (
        "movement",
        "x",
        "mm",
    )
    row = db.get_definition_version(stage.id, 1, lab_id=None)
    assert row.test_code.startswith("def test(instrument):")
    assert "GPIB0::5::INSTR" in row.sim_device

    released = [
        replace(b, content=b.content._replace(source_code=b.content.source_code + "\n# v2\n"))
        if b.name == "ScpiStage"
        else b
        for b in builtin_drivers()
    ]
    third = sync_builtin_definitions(db, released)
    assert third.updated == ["ScpiStage"]
    assert sorted(third.unchanged) == ["SR830LockIn", "ScpiMultimeter"]
    stage = db.get_instrument_definition(stage.id, lab_id=None)
    newest = db.get_definition_version(stage.id, 2, lab_id=None)
    assert (stage.version, stage.approved_version, newest.status) == (2, 2, "approved")
    assert stage.approved_code_hash == newest.code_hash
    assert not sync_builtin_definitions(db, released).changed


def test_list_shows_versions_approval_and_test_status(db, database_url, lab, drivers) -> None:
    sync_builtin_definitions(db)
    run(database_url, "import", str(drivers / "lockin.py"))
    result = run(database_url, "list")
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "this lab" in lines["MyLockIn"]
    assert "pending" in lines["MyLockIn"]
    assert "no test" in lines["MyLockIn"]
    assert "builtin" in lines["ScpiStage"]
    assert "v1" in lines["ScpiStage"]
    assert "not run" in lines["ScpiStage"]


@pytest.mark.parametrize("name", [b.name for b in builtin_drivers()])
def test_every_builtin_definition_passes_its_own_test(db, database_url, name) -> None:
    sync_builtin_definitions(db)
    result = run(database_url, "test", name)
    assert result.exit_code == 0, result.output
    assert f"{name} v1: passed" in result.output
    definition = next(d for d in db.get_instrument_definitions(None) if d.name == name)
    stored = db.get_definition_version(definition.id, 1, lab_id=None)
    assert stored.test_result["passed"] is True
    assert stored.tested_at is not None


# -- tests of a lab's definition -----------------------------------------------------------


def test_definition_test_passes_then_fails_with_the_line_and_is_stored_with_the_version(
    db, database_url, lab
) -> None:
    definition = db.create_instrument_definition(
        lab.id,
        "MyLockIn",
        "measurement",
        SEED_LOCKIN_CODE,
        author_id=lab.owner,
        test_code=PASSING_TEST,
        sim_device=SR830_DEVICE,
    )
    passed = run(database_url, "test", "MyLockIn", "--lab", "Optics")
    assert passed.exit_code == 0, passed.output
    assert "MyLockIn v1: passed" in passed.output
    assert db.get_definition_version(definition.id, 1, lab_id=lab.id).test_result["passed"]

    db.update_instrument_definition(
        definition.id, lab_id=lab.id, author_id=lab.owner, test_code=FAILING_TEST
    )
    failed = run(database_url, "test", "MyLockIn")
    assert failed.exit_code == 1
    assert "MyLockIn v2: failed" in failed.output
    assert "assertion failed at line 3: X is far too small" in failed.output
    result = db.get_definition_version(definition.id, 2, lab_id=lab.id).test_result
    assert (result["passed"], result["line"]) == (False, 3)
    assert result["message"] == "assertion failed at line 3: X is far too small"
    # version 1 keeps its own result
    assert db.get_definition_version(definition.id, 1, lab_id=lab.id).test_result["passed"]
    again = run(database_url, "test", "MyLockIn", "--version", "1")
    assert again.exit_code == 0, again.output


def test_test_code_runs_under_the_driver_restrictions(db, database_url, lab) -> None:
    sneaky = "def test(instrument):\n    assert instrument.__class__ is not None\n"
    definition = db.create_instrument_definition(
        lab.id,
        "MyLockIn",
        "measurement",
        SEED_LOCKIN_CODE,
        author_id=lab.owner,
        test_code=sneaky,
        sim_device=SR830_DEVICE,
    )
    result = run(database_url, "test", "MyLockIn")
    assert result.exit_code == 1
    assert '"__class__" is an invalid attribute name' in result.output
    stored = db.get_definition_version(definition.id, 1, lab_id=lab.id).test_result
    assert (stored["passed"], stored["line"]) == (False, 2)
