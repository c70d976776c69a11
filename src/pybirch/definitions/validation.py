"""Validation of stored driver code without running it.

The web server checks a definition before it is stored and whenever a user asks, but never
executes it: the code is compiled (which runs nothing) and its syntax tree is read.
:func:`validate_definition` reports every problem it finds, each with the line and column
it points at (both 1-based, as editors count) and the field it belongs to:

* the code compiles (syntax errors with line and column);
* exactly one class derives from an allowed base class (:mod:`.base_classes`), of the
  kind the definition says, and defines the members that base leaves abstract;
* the code passes the RestrictedPython policy it will be loaded under (:mod:`.policy`):
  no ``_`` names but the template hooks, no ``eval``/``exec``/``open``/``compile``,
  imports from the allow-list only;
* data columns and units are non-empty, unique names of equal number;
* ``settings_schema`` is a JSON Schema with local references only, and
  ``default_settings`` satisfies it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from referencing import Registry

from pybirch.definitions.base_classes import BASE_CLASSES, INSTRUMENT_TYPES, BaseClass
from pybirch.definitions.policy import restricted_problems
from pybirch.instruments.settings import nonlocal_references

#: Longer code is refused before it is parsed (a driver is a few hundred lines).
MAX_SOURCE_CHARS = 200_000

#: The file name compiled code reports, so messages read "line 3 of <definition>".
SOURCE_NAME = "<definition>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: where (1-based line and column) and in which field."""

    message: str
    line: int | None = None
    column: int | None = None
    field: str = "source_code"


@dataclass
class ValidationReport:
    """Every problem found, and what the code turned out to define."""

    problems: list[Problem] = field(default_factory=list)
    #: Name of the driver class, when exactly one was found.
    class_name: str | None = None
    #: The allowed base class it derives from.
    base_class: str | None = None
    #: ``measurement`` or ``movement``, from that base class.
    instrument_type: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able values (for the API and the editor)."""
        return {**asdict(self), "ok": self.ok}


def validate_definition(
    source_code: str,
    *,
    instrument_type: str | None = None,
    data_columns: Any = None,
    data_units: Any = None,
    settings_schema: Any = None,
    default_settings: Any = None,
) -> ValidationReport:
    """Check a definition's code and metadata without running the code."""
    report = ValidationReport()
    if instrument_type is not None and instrument_type not in INSTRUMENT_TYPES:
        report.problems.append(
            Problem(
                f"instrument type must be one of {', '.join(INSTRUMENT_TYPES)}, "
                f"not {instrument_type!r}",
                field="instrument_type",
            )
        )
        instrument_type = None
    tree = _parse(source_code, report.problems)
    if tree is not None:
        _check_driver_class(tree, instrument_type, report)
        report.problems.extend(_policy_problems(source_code))
    report.problems.extend(_column_problems(data_columns, data_units))
    report.problems.extend(_settings_problems(settings_schema, default_settings))
    return report


# -- syntax --------------------------------------------------------------------------------


def _parse(source_code: Any, problems: list[Problem]) -> ast.Module | None:
    """The syntax tree, or None with the reason added to ``problems``."""
    if not isinstance(source_code, str) or not source_code.strip():
        problems.append(Problem("the code is empty"))
        return None
    if len(source_code) > MAX_SOURCE_CHARS:
        problems.append(Problem(f"the code is longer than {MAX_SOURCE_CHARS} characters"))
        return None
    try:
        # compile, not only parse: "return outside function" and the like are found there;
        # compiling runs nothing.
        compile(source_code, SOURCE_NAME, "exec", dont_inherit=True)
        return ast.parse(source_code, SOURCE_NAME)
    except SyntaxError as exc:
        problems.append(Problem(f"{type(exc).__name__}: {exc.msg}", exc.lineno, exc.offset))
    except ValueError as exc:  # a NUL character
        problems.append(Problem(f"the code cannot be compiled: {exc}"))
    except (RecursionError, MemoryError):
        problems.append(Problem("the code is nested too deeply to compile"))
    return None


# -- the driver class ----------------------------------------------------------------------


def _check_driver_class(
    tree: ast.Module, instrument_type: str | None, report: ValidationReport
) -> None:
    """Exactly one class derives from an allowed base, of the right kind, with its members."""
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    drivers = [node for node in classes if _allowed_bases(node)]
    if not drivers:
        report.problems.append(
            Problem(
                "no class derives from a PyBirch base class; derive the driver from one of "
                + ", ".join(BASE_CLASSES)
            )
        )
        return
    for extra in drivers[1:]:
        report.problems.append(
            Problem(
                f"a definition holds one driver class; {extra.name} is a second one after "
                f"{drivers[0].name}",
                *_position(extra),
            )
        )
    driver = drivers[0]
    base_node, base = _single_base(driver, report.problems)
    report.class_name, report.base_class = driver.name, base.name
    report.instrument_type = base.kind
    if instrument_type is not None and instrument_type != base.kind:
        report.problems.append(
            Problem(
                f"{driver.name} derives from {base.name}, a {base.kind} base class, but the "
                f"definition's type is {instrument_type}",
                *_position(base_node),
            )
        )
    report.problems.extend(_missing_members(driver, base))


def _allowed_bases(node: ast.ClassDef) -> list[ast.Name]:
    return [b for b in node.bases if isinstance(b, ast.Name) and b.id in BASE_CLASSES]


def _single_base(driver: ast.ClassDef, problems: list[Problem]) -> tuple[ast.expr, BaseClass]:
    """The driver's one allowed base; other bases are problems."""
    allowed = _allowed_bases(driver)
    for other in driver.bases:
        if other is not allowed[0]:
            problems.append(
                Problem(
                    f"{driver.name} may derive from one PyBirch base class only, not also "
                    f"from {ast.unparse(other)}",
                    *_position(other),
                )
            )
    return allowed[0], BASE_CLASSES[allowed[0].id]


def _missing_members(driver: ast.ClassDef, base: BaseClass) -> Iterator[Problem]:
    """The members ``base`` leaves abstract that the class body does not define."""
    defined = set(_defined_names(driver))
    for member in base.required_members:
        if member not in defined:
            yield Problem(
                f"{driver.name} must define {member} (abstract in {base.name})",
                *_position(driver),
            )
    # The engine assigns a movement's position: an abstract property needs its setter too.
    needs_setter = "position" in base.required_members and "position" in defined
    if needs_setter and not any(_is_setter_of(node, "position") for node in driver.body):
        yield Problem(
            f"{driver.name} must define a position setter (@position.setter)",
            *_position(driver),
        )


def _defined_names(cls: ast.ClassDef) -> Iterator[str]:
    """Names the class body binds: methods, properties and assigned attributes."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name
        elif isinstance(node, ast.Assign):
            yield from (t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id


def _is_setter_of(node: ast.stmt, name: str) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Attribute)
        and d.attr == "setter"
        and isinstance(d.value, ast.Name)
        and d.value.id == name
        for d in node.decorator_list
    )


def _position(node: ast.AST) -> tuple[int | None, int | None]:
    """1-based line and column of a syntax node."""
    column = getattr(node, "col_offset", None)
    return getattr(node, "lineno", None), None if column is None else column + 1


# -- the sandbox policy --------------------------------------------------------------------


def _policy_problems(source_code: str) -> Iterator[Problem]:
    """What RestrictedPython, under the policy stored code is loaded with, refuses."""
    for found in restricted_problems(ast.parse(source_code, SOURCE_NAME)):
        column = None if found.column is None else found.column + 1
        yield Problem(found.message, found.line, column)


# -- columns and units ---------------------------------------------------------------------


def _column_problems(columns: Any, units: Any) -> Iterator[Problem]:
    """Columns are non-empty unique names; units are names, one per column."""
    if columns is not None:
        yield from _names_problems(columns, "data_columns", allow_empty=False)
    if units is not None:
        yield from _names_problems(units, "data_units", allow_empty=True)
        if columns is None:
            yield Problem("data units are given without data columns", field="data_units")
    if isinstance(columns, list) and isinstance(units, list) and len(columns) != len(units):
        yield Problem(
            f"{len(columns)} data columns but {len(units)} units: give one unit per column "
            "('' for none)",
            field="data_units",
        )


def _names_problems(values: Any, field_name: str, *, allow_empty: bool) -> Iterator[Problem]:
    if not isinstance(values, list):
        yield Problem(f"{field_name} must be a list of names", field=field_name)
        return
    seen: set[str] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str):
            yield Problem(f"{field_name}[{index}] must be text, not {value!r}", field=field_name)
        elif not value.strip() and not allow_empty:
            yield Problem(f"{field_name}[{index}] is an empty name", field=field_name)
        elif field_name == "data_columns" and value in seen:
            yield Problem(f"data column {value!r} appears twice", field=field_name)
        else:
            seen.add(value)


# -- settings ------------------------------------------------------------------------------


def _settings_problems(schema: Any, defaults: Any) -> Iterator[Problem]:
    """The schema is a self-contained JSON Schema and the defaults satisfy it."""
    if defaults is not None and not isinstance(defaults, dict):
        yield Problem("default settings must be an object", field="default_settings")
        defaults = None
    if schema is None:
        return
    if not isinstance(schema, dict):
        yield Problem("the settings schema must be an object", field="settings_schema")
        return
    schema_problems = list(_schema_problems(schema))
    yield from schema_problems
    if schema_problems or defaults is None:
        return
    # An empty registry: no reference is ever fetched, even if one slipped through.
    validator = validators.validator_for(schema, default=Draft202012Validator)(
        schema, registry=Registry()
    )
    for error in validator.iter_errors(defaults):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        yield Problem(f"default settings at {where}: {error.message}", field="default_settings")


def _schema_problems(schema: dict[str, Any]) -> Iterator[Problem]:
    for reference in nonlocal_references(schema):
        # a $ref to file:// or http:// would make validation read files or the network
        yield Problem(
            f"the settings schema may refer only within itself ('#/...'), not to {reference!r}",
            field="settings_schema",
        )
    try:
        validators.validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(top level)"
        yield Problem(f"not a valid JSON Schema at {where}: {exc.message}", field="settings_schema")
