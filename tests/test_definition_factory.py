"""InstrumentFactory with stored code: approved drivers work, everything else is named."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from definition_examples import SEED_LOCKIN_CODE, STAGE_CODE
from pybirch.definitions import (
    DefinitionLoadError,
    InstrumentFactory,
    UnapprovedCodeError,
    code_hash,
)
from pybirch.instruments.confinement import StoredResource
from pybirch.instruments.registry import instrument_class_path, registered_instrument_classes
from pybirch.instruments.simulated import FakeMultimeter
from pybirch.instruments.simulated.visa_sim import SIM_BACKEND, SR830_RESOURCE

_ids = itertools.count(1)

#: A driver doing numpy maths on VISA answers, with the imports the allow-list permits.
MATHS_CODE = '''
import math
from numpy import hypot

class Polar(VisaBaseMeasurementInstrument):
    """Reads X and Y and derives R and the phase in degrees."""

    def __init__(self, name="Polar", adapter=""):
        super().__init__(name, adapter)
        self.data_columns = ["X", "Y", "R", "phase"]
        self.data_units = ["V", "V", "V", "deg"]
        self._define_settings({"averages": 2}, schema={"averages": {"type": "integer"}})

    def _perform_measurement_impl(self):
        values = []
        for channel in (1, 2):
            answers = [float(self.instrument.query(f"OUTP? {channel}")) for _ in range(2)]
            values.append(np.mean(np.array(answers)))
        x, y = values
        rows = np.zeros((1, 4))
        rows[0, :2] = [x, y]
        rows[0, 2] = hypot(x, y)
        rows[0, 3] = math.degrees(np.arctan2(y, x))
        total = 0
        for index, value in enumerate(rows[0]):
            total += index * value
        return rows
'''


def approved(code: str, *, definition_id: int | None = None, version: int = 1, **extra):
    """A definition as bindings hand it out, with the approval's hash pin."""
    return {
        "id": next(_ids) if definition_id is None else definition_id,
        "name": extra.pop("name", "MyLockIn"),
        "version": version,
        "source_code": code,
        "code_hash": code_hash(code),
        "approved_code_hash": code_hash(code),
        **extra,
    }


def test_the_seed_lockin_measures_through_pyvisa_sim() -> None:
    lockin = InstrumentFactory.create_instance(
        approved(SEED_LOCKIN_CODE), SR830_RESOURCE, backend=SIM_BACKEND
    )
    assert lockin.connect()
    assert isinstance(lockin.instrument, StoredResource)
    reading = lockin.perform_measurement()
    assert reading.shape == (1, 4)
    assert list(lockin.data_columns) == ["X", "Y", "R", "Theta"]
    assert lockin.settings == {"sensitivity": 1e-6, "time_constant": 0.1}
    lockin.shutdown()


def test_a_numpy_driver_matches_its_plain_python_result() -> None:
    polar = InstrumentFactory.create_instance(
        approved(MATHS_CODE, name="Polar"), SR830_RESOURCE, backend=SIM_BACKEND, name="P"
    )
    assert polar.connect()
    x = float(polar.instrument.query("OUTP? 1"))
    y = float(polar.instrument.query("OUTP? 2"))
    expected = [x, y, np.hypot(x, y), np.degrees(np.arctan2(y, x))]
    np.testing.assert_allclose(polar.perform_measurement()[0], expected)
    assert polar.name == "P"
    polar.shutdown()


def test_the_stage_with_allowed_imports_loads() -> None:
    stage = InstrumentFactory.create_class_from_definition(approved(STAGE_CODE, name="Stage"))
    assert stage.kind == "movement"
    assert stage.__name__ == "Stage"


def test_the_class_names_its_definition_for_the_scan_record() -> None:
    definition = approved(SEED_LOCKIN_CODE, definition_id=4242, version=3)
    driver = InstrumentFactory.create_class_from_definition(definition)
    digest = code_hash(SEED_LOCKIN_CODE)
    assert driver.definition_id == 4242
    assert driver.definition_name == "MyLockIn"
    assert driver.definition_version == 3
    assert driver.definition_code_hash == digest
    assert driver.driver_version == f"definition v3 (sha256 {digest[:8]}…)"
    assert driver.__module__ == "pybirch_definition_4242_v3"
    # stored classes are not installed drivers: discovery and the catalogue never offer them
    assert driver not in registered_instrument_classes()


def test_code_changed_behind_pybirchs_back_is_refused() -> None:
    definition = approved(SEED_LOCKIN_CODE)
    definition["source_code"] += "\nimport_time_payload = 1\n"
    with pytest.raises(UnapprovedCodeError, match="changed in the database after approval"):
        InstrumentFactory.create_class_from_definition(definition)


def test_code_without_an_approval_is_refused() -> None:
    definition = approved(SEED_LOCKIN_CODE, version=2)
    definition["approved_code_hash"] = None
    with pytest.raises(UnapprovedCodeError, match=r"MyLockIn v2: .* not the approved none"):
        InstrumentFactory.create_class_from_definition(definition)


def test_the_cache_returns_the_same_class_and_older_versions_stay_valid() -> None:
    first = approved(SEED_LOCKIN_CODE, definition_id=77, version=1)
    driver = InstrumentFactory.create_class_from_definition(first)
    assert InstrumentFactory.create_class_from_definition(dict(first)) is driver
    newer_code = SEED_LOCKIN_CODE.replace("My Lock-In", "My Lock-In 2")
    second = approved(newer_code, definition_id=77, version=2)
    newer = InstrumentFactory.create_class_from_definition(second)
    assert newer is not driver
    assert InstrumentFactory.create_class_from_definition(first) is driver
    assert driver.definition_version == 1


def test_errors_name_the_definition_version_and_line() -> None:
    code = SEED_LOCKIN_CODE + "\nratio = 1 / 0\n"
    line = code.count("\n")
    with pytest.raises(DefinitionLoadError) as caught:
        InstrumentFactory.create_class_from_definition(approved(code, version=5))
    message = str(caught.value)
    assert message.startswith("<definition MyLockIn v5> failed while it ran")
    assert f"at line {line}" in message
    assert "ZeroDivisionError" in message
    assert caught.value.line == line


def test_an_error_in_the_constructor_names_its_line() -> None:
    code = SEED_LOCKIN_CODE.replace(
        "super().__init__(name, adapter)", "super().__init__(name, adapter)\n        self.name = 5"
    )
    with pytest.raises(
        DefinitionLoadError, match=r"v1> failed when its class was instantiated at line 7"
    ):
        InstrumentFactory.create_class_from_definition(approved(code))


def test_installed_drivers_still_load_by_class_path() -> None:
    definition = {
        "name": "Meter",
        "pybirch_class": instrument_class_path(FakeMultimeter),
        "source_code": None,
    }
    driver = InstrumentFactory.create_class_from_definition(definition)
    assert driver is FakeMultimeter
