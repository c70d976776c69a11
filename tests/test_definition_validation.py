"""Stored driver code is validated without running it: every problem with its line and column."""

from __future__ import annotations

import textwrap

import pytest

from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE, STAGE_CODE
from pybirch.definitions import Problem, validate_definition
from pybirch.definitions.base_classes import BASE_CLASSES
from pybirch.definitions.validation import MAX_SOURCE_CHARS

SEED_FIELDS = {
    key: SEED_LOCKIN[key]
    for key in ("instrument_type", "data_columns", "data_units", "settings_schema")
}


def driver(body: str, *, head: str = "", base: str = "BaseMeasurementInstrument") -> str:
    """A measurement driver class around ``body`` (indented into it), after ``head``."""
    return (
        textwrap.dedent(head)
        + f"class Probe({base}):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n    def _perform_measurement_impl(self):\n        return np.zeros((1, 1))\n"
    )


def problems(source: str, **fields: object) -> list[Problem]:
    return validate_definition(source, **fields).problems


def only(source: str, **fields: object) -> Problem:
    found = problems(source, **fields)
    assert len(found) == 1, found
    return found[0]


# -- what passes ---------------------------------------------------------------------------


def test_the_seed_lockin_validates_as_written_and_names_its_class() -> None:
    report = validate_definition(SEED_LOCKIN["source_code"], **SEED_FIELDS)
    assert report.problems == []
    assert report.ok
    assert (report.class_name, report.base_class, report.instrument_type) == (
        "MyLockIn",
        "VisaBaseMeasurementInstrument",
        "measurement",
    )
    assert report.as_dict()["ok"] is True


def test_a_movement_with_allowed_imports_validates() -> None:
    report = validate_definition(STAGE_CODE, instrument_type="movement")
    assert report.problems == []
    assert report.base_class == "VisaBaseMovementInstrument"


def test_helper_classes_beside_the_driver_are_allowed() -> None:
    source = "class Modes:\n    FAST = 1\n\n" + driver("pass")
    assert problems(source) == []


def test_the_allowed_base_classes_require_their_abstract_members() -> None:
    required = {name: base.required_members for name, base in BASE_CLASSES.items()}
    assert required["VisaBaseMeasurementInstrument"] == ("_perform_measurement_impl",)
    assert required["Measurement"] == ("perform_measurement",)
    assert required["BaseMovementInstrument"] == ("position",)
    assert required["FakeMovementInstrument"] == ()


# -- syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("class A(Measurement):\n    def f(:\n        pass\n", "SyntaxError", 2, 11),
        ("class A(Measurement):\n  def f(self):\n   x = 1\n    y = 2\n", "unexpected indent", 4, 4),
        ("x = 1\nreturn x\n", "'return' outside function", 2, 1),
        ("x = (1,\n", "never closed", 1, 5),
        ("def f():\n    nonlocal y\n", "no binding for nonlocal", 2, 5),
    ],
)
def test_syntax_errors_carry_line_and_column(
    source: str, message: str, line: int, column: int
) -> None:
    problem = only(source)
    assert message in problem.message
    assert (problem.line, problem.column, problem.field) == (line, column, "source_code")


@pytest.mark.parametrize("source", ["", "   \n", None, "x = 1\x00"])
def test_empty_or_uncompilable_code_is_refused(source: str | None) -> None:
    assert problems(source)  # type: ignore[arg-type]


def test_code_beyond_the_size_limit_is_refused_before_parsing() -> None:
    assert "longer than" in only("#" * (MAX_SOURCE_CHARS + 1)).message


def test_code_nested_too_deeply_is_a_problem_not_a_crash() -> None:
    assert problems("x = " + "(" * 300 + ")" * 300)


# -- the driver class ----------------------------------------------------------------------


def test_code_without_a_driver_class_is_refused() -> None:
    problem = only("class Plain:\n    pass\n")
    assert "no class derives from a PyBirch base class" in problem.message


def test_a_second_driver_class_is_pointed_at() -> None:
    source = driver("pass") + "\n\n" + driver("pass").replace("Probe", "Other")
    problem = only(source)
    assert "Other is a second one after Probe" in problem.message
    assert (problem.line, problem.column) == (7, 1)


def test_an_unknown_base_beside_the_allowed_one_is_pointed_at() -> None:
    problem = only(driver("pass", base="BaseMeasurementInstrument, dict"))
    assert "not also from dict" in problem.message
    assert (problem.line, problem.column) == (1, 40)


def test_a_base_class_of_the_other_kind_is_refused() -> None:
    problem = only(STAGE_CODE, instrument_type="measurement")
    assert "a movement base class, but the definition's type is measurement" in problem.message
    assert (problem.line, problem.column) == (7, 13)


def test_an_unknown_instrument_type_is_a_problem_of_that_field() -> None:
    problem = only(SEED_LOCKIN_CODE, instrument_type="fabrication")
    assert problem.field == "instrument_type"


def test_a_missing_measurement_method_is_named() -> None:
    source = (
        "class Probe(VisaBaseMeasurementInstrument):\n"
        "    def _connect_impl(self):\n"
        "        return True\n"
    )
    problem = only(source)
    assert "must define _perform_measurement_impl" in problem.message
    assert (problem.line, problem.column) == (1, 1)


def test_a_movement_needs_its_position_and_a_setter() -> None:
    missing = only("class S(BaseMovementInstrument):\n    pass\n")
    assert "must define position" in missing.message
    getter_only = "class S(Movement):\n    @property\n    def position(self):\n        return 0.0\n"
    assert "position setter" in only(getter_only).message


# -- the RestrictedPython policy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "line", "column"),
    [
        ("def f(self):\n    return open('/etc/passwd').read()", '"open" is not available', 2, 12),
        ("def f(self):\n    eval('1 + 1')", "Eval calls are not allowed", 2, 5),
        ("def f(self):\n    exec('x = 1')", "Exec calls are not allowed", 2, 5),
        ("def f(self):\n    run = eval\n    return run", '"eval" is not available', 2, 11),
        ("def f(self):\n    compile('1', 'x', 'eval')", '"compile" is not available', 2, 5),
        ("def f(self):\n    __import__('os')", '"__import__" is an invalid variable name', 2, 5),
        ("def f(self):\n    return getattr(self, 'x')", '"getattr" is not available', 2, 12),
        ("def f(self):\n    return type(self)", '"type" is not available', 2, 12),
        ("def f(self):\n    return globals()", '"globals" is not available', 2, 12),
        ("def f(self):\n    return self.__class__", '"__class__" is an invalid attribute', 2, 12),
        ("def f(self):\n    return ().__class__.__subclasses__()", "__subclasses__", 2, 12),
        ("def f(self):\n    return self._settings", '"_settings" is an invalid attribute', 2, 12),
        ("def _hidden(self):\n    return 1", '"_hidden" is an invalid variable name', 1, 1),
        ("def f(self, _x):\n    return 1", '"_x" is an invalid variable name', 1, 1),
        ("def f(self):\n    _tmp = 1", '"_tmp" is an invalid variable name', 2, 5),
        ("def f(self):\n    return np.savetxt", '"savetxt" is not available', 2, 12),
        ("def f(self, a):\n    a.tofile('x')", '"tofile" is not available', 2, 5),
        ("def f(self):\n    return np.ctypeslib", '"ctypeslib" is not available', 2, 12),
        ("def f(self):\n    return np.lib.format", '"lib" is not available', 2, 12),
        ("def f(self):\n    g = (i for i in [])\n    return g.gi_frame", "gi_frame", 3, 12),
        ("def f(self):\n    print('x')\n    return printed", "", 0, 0),  # allowed
    ],
)
def test_the_sandbox_policy_refuses_with_line_and_column(
    body: str, message: str, line: int, column: int
) -> None:
    found = problems(driver(body))
    if not message:
        assert found == []
        return
    assert len(found) >= 1, body
    problem = next(p for p in found if message in p.message)
    # the driver's class line comes first: body lines are one lower
    assert (problem.line, problem.column) == (line + 1, column + 4)


def test_the_template_hooks_and_super_init_are_allowed_but_nothing_else_private() -> None:
    body = """
    def __init__(self, name="P"):
        super().__init__(name)
        self._define_settings({"gain": 1.0})

    def _connect_impl(self):
        return True

    def _initialize_impl(self):
        self._secret = 1

    def _shutdown_impl(self):
        object().__init__()
    """
    found = problems(driver(body))
    assert [(p.message.split()[0], p.line) for p in found] == [
        ('"_secret"', 11),
        ('"__init__"', 14),
    ]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ("import os\n", 'import of "os" is not allowed'),
        ("import numpy.f2py\n", 'import of "numpy.f2py" is not allowed'),
        ("import subprocess as sp\n", 'import of "subprocess" is not allowed'),
        ("from os import path\n", 'import from "os" is not allowed'),
        ("from numpy import savetxt\n", '"savetxt" may not be imported from "numpy"'),
        ("from numpy import lib as l\n", '"lib" may not be imported from "numpy"'),
        ("from numpy.lib import format\n", 'import from "numpy.lib" is not allowed'),
        ("from . import sibling\n", "relative imports are not allowed"),
        ("from .drivers import x\n", "relative imports are not allowed"),
        ("from pybirch.instruments.visa import os\n", '"os" may not be imported'),
        ("from pybirch.instruments import resource_manager\n", '"resource_manager" may not'),
        ("import pybirch.instruments\n", 'import of "pybirch.instruments" is not allowed'),
        ("from pybirch.database import DatabaseService\n", 'from "pybirch.database" is not'),
        ("from math import *\n", '"*" imports are not allowed'),
        ("import builtins\n", '"builtins" is a reserved name'),
    ],
)
def test_imports_outside_the_allow_list_are_refused(head: str, message: str) -> None:
    found = problems(driver("pass", head=head))
    assert any(message in p.message for p in found), found
    assert all((p.line, p.column) == (1, 1) for p in found)


def test_allowed_imports_in_every_form_pass() -> None:
    head = """
    import numpy as np
    import math, time
    from math import pi as PI
    from numpy import linspace, sqrt
    from pybirch.instruments.visa import VisaBaseMeasurementInstrument
    from pybirch.instruments.base import BaseMeasurementInstrument as Base
    """
    assert problems(driver("pass", head=head)) == []


# -- columns and units ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "units", "message", "field"),
    [
        (["X", "Y"], ["V"], "2 data columns but 1 units", "data_units"),
        (["X", "X"], ["V", "V"], "data column 'X' appears twice", "data_columns"),
        (["X", " "], ["V", "V"], "data_columns[1] is an empty name", "data_columns"),
        (["X", 3], ["V", "V"], "data_columns[1] must be text", "data_columns"),
        ("X", None, "data_columns must be a list", "data_columns"),
        (None, ["V"], "units are given without data columns", "data_units"),
        (["X"], [None], "data_units[0] must be text", "data_units"),
    ],
)
def test_columns_and_units_must_agree(
    columns: object, units: object, message: str, field: str
) -> None:
    problem = only(SEED_LOCKIN_CODE, data_columns=columns, data_units=units)
    assert message in problem.message
    assert (problem.field, problem.line) == (field, None)


def test_a_dimensionless_column_has_an_empty_unit() -> None:
    assert problems(SEED_LOCKIN_CODE, data_columns=["X", "n"], data_units=["V", ""]) == []


# -- settings ------------------------------------------------------------------------------


SCHEMA = SEED_LOCKIN["settings_schema"]


def test_default_settings_that_satisfy_the_schema_pass() -> None:
    defaults = {"sensitivity": 1e-6, "time_constant": 0.1}
    assert problems(SEED_LOCKIN_CODE, settings_schema=SCHEMA, default_settings=defaults) == []


def test_default_settings_outside_the_schema_are_named_by_path() -> None:
    defaults = {"sensitivity": 5, "time_constant": "slow"}
    found = problems(SEED_LOCKIN_CODE, settings_schema=SCHEMA, default_settings=defaults)
    assert {p.field for p in found} == {"default_settings"}
    messages = " | ".join(p.message for p in found)
    assert "at sensitivity: 5 is greater than the maximum of 1" in messages
    assert "at time_constant: 'slow' is not of type 'number'" in messages


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "objekt"}, "not a valid JSON Schema at type"),
        ({"properties": {"a": {"minimum": "low"}}}, "not a valid JSON Schema at properties/a"),
        ([], "must be an object"),
        ({"properties": {"a": {"$ref": "file:///etc/passwd"}}}, "not to 'file:///etc/passwd'"),
        ({"$ref": "http://example.org/s.json"}, "not to 'http://example.org/s.json'"),
        ({"allOf": [{"$dynamicRef": "https://x/y"}]}, "not to 'https://x/y'"),
    ],
)
def test_a_settings_schema_must_be_a_self_contained_json_schema(
    schema: object, message: str
) -> None:
    found = problems(SEED_LOCKIN_CODE, settings_schema=schema, default_settings={"a": 1})
    assert any(message in p.message for p in found), found
    assert {p.field for p in found} == {"settings_schema"}


def test_local_references_inside_the_schema_are_followed() -> None:
    schema = {
        "$defs": {"gain": {"type": "number", "minimum": 0}},
        "properties": {"gain": {"$ref": "#/$defs/gain"}},
    }
    assert problems(SEED_LOCKIN_CODE, settings_schema=schema, default_settings={"gain": 2}) == []
    found = problems(SEED_LOCKIN_CODE, settings_schema=schema, default_settings={"gain": -1})
    assert [p.field for p in found] == ["default_settings"]


def test_default_settings_must_be_an_object() -> None:
    assert only(SEED_LOCKIN_CODE, default_settings=[1]).field == "default_settings"


def test_every_problem_is_reported_at_once() -> None:
    source = driver("def f(self):\n    return open('x')", head="import os\n")
    found = problems(source, data_columns=["X", "X"], settings_schema={"type": 5})
    assert {p.field for p in found} == {"source_code", "data_columns", "settings_schema"}
    assert len(found) == 4
