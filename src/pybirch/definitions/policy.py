"""What stored driver code may say: the RestrictedPython policy it is compiled under.

One policy serves validation (the web server parses and compiles, never runs) and loading
(a lab computer compiles the approved code with it), so both refuse the same code.

On top of RestrictedPython's own rules (no names starting with ``_``, no ``exec`` or
``eval``, attribute access through guards), :class:`DriverPolicy`

* allows exactly the names the seed plan's driver templates use although they start with
  ``_``: the template hooks in :data:`TEMPLATE_HOOKS` (defined and reached as attributes)
  and ``super().__init__(...)``;
* refuses the builtins that open doors: files, code execution and attribute access by a
  computed name (:data:`FORBIDDEN_NAMES`), and attribute names that are numpy's doors to
  files and native code (:data:`FORBIDDEN_ATTRIBUTES`) — the loading namespace is the real
  gate; refusing them here names the line at validation time;
* allows imports by exact module name only (:data:`MODULE_IMPORTS`, :data:`FROM_IMPORTS`):
  numpy's own submodules reach ``os`` and ``subprocess``, and the base-class modules hold
  ``os`` as an attribute, so from those only the base classes may be imported.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from RestrictedPython import RestrictingNodeTransformer

from pybirch.definitions.base_classes import BASE_CLASS_MODULES, BASE_CLASSES

#: Template hooks of the base classes a driver defines or calls although they start with "_".
TEMPLATE_HOOKS = frozenset(
    {
        "_connect_impl",
        "_initialize_impl",
        "_shutdown_impl",
        "_perform_measurement_impl",
        "_define_settings",
    }
)

#: Builtins stored code may not name: files, code execution, introspection, computed access.
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "type",
        "memoryview",
        "input",
        "help",
    }
)

#: numpy's doors to files, pickles and native code, refused as attribute names anywhere.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "load",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "tofile",
        "dump",
        "dumps",
        "memmap",
        "ctypeslib",
        "ctypes",
        "lib",
        "f2py",
        "distutils",
        "testing",
        "DataSource",
    }
)

#: Modules stored code may ``import`` whole (``import numpy as np``).
MODULE_IMPORTS = frozenset({"numpy", "math", "time"})

#: Modules stored code may ``from ... import`` names from, and which names (None: any name
#: but the forbidden attributes).
FROM_IMPORTS: dict[str, frozenset[str] | None] = {
    "numpy": None,
    "math": None,
    "time": None,
    **dict.fromkeys(BASE_CLASS_MODULES, frozenset(BASE_CLASSES)),
}


class PolicyProblem(NamedTuple):
    """A rule the code breaks, where (1-based line, 0-based column)."""

    message: str
    line: int | None
    column: int | None


class DriverPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, widened for the driver templates and narrowed for doors."""

    def __init__(
        self,
        errors: list[str] | None = None,
        warnings: list[str] | None = None,
        used_names: dict[str, bool] | None = None,
    ) -> None:
        super().__init__(errors, warnings, used_names)
        #: Every error with its column, which RestrictedPython's own messages lack.
        self.problems: list[PolicyProblem] = []
        self._reported_names: set[int] = set()

    def error(self, node: ast.AST, info: str) -> None:
        """Record an error, unless it refuses a template name this policy allows."""
        if _allowed_private_name(node, info):
            return
        super().error(node, info)
        # RestrictedPython's messages start "Line N: "; ours carry the line separately.
        self.problems.append(
            PolicyProblem(info, getattr(node, "lineno", None), getattr(node, "col_offset", None))
        )

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """Let RestrictedPython alone report ``exec(...)`` and ``eval(...)`` calls."""
        if isinstance(node.func, ast.Name) and node.func.id in {"exec", "eval"}:
            self._reported_names.add(id(node.func))
        return super().visit_Call(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        """Refuse the forbidden builtins wherever they are read."""
        if (
            isinstance(node.ctx, ast.Load)
            and node.id in FORBIDDEN_NAMES
            and id(node) not in self._reported_names
        ):
            self.error(node, f'"{node.id}" is not available to stored instrument code.')
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        """Refuse numpy's file and native-code doors by attribute name."""
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.error(node, f'"{node.attr}" is not available to stored instrument code.')
        return super().visit_Attribute(node)

    def check_import_names(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        """Allow imports of the allow-listed modules (and names) only."""
        for message in _import_problems(node):
            self.error(node, message)
        return super().check_import_names(node)


def restricted_problems(tree: ast.Module) -> list[PolicyProblem]:
    """The policy's problems with ``tree`` (which it rewrites in place; pass a fresh one)."""
    policy = DriverPolicy([], [], {})
    policy.visit(tree)
    return policy.problems


def _allowed_private_name(node: ast.AST, info: str) -> bool:
    """Whether ``info`` refuses a template hook or ``super().__init__`` at ``node``."""
    if isinstance(node, ast.FunctionDef) and node.name in TEMPLATE_HOOKS:
        name = node.name
    elif isinstance(node, ast.Attribute) and (
        node.attr in TEMPLATE_HOOKS or (node.attr == "__init__" and _is_super_call(node.value))
    ):
        name = node.attr
    else:
        return False
    # the same node is also blamed for its arguments' names; only its own name is excused
    return info.startswith(f'"{name}" is an invalid') and 'starts with "_"' in info


def _is_super_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _import_problems(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Why the import statement is refused (empty if it is allowed)."""
    if isinstance(node, ast.Import):
        return [
            f'import of "{alias.name}" is not allowed; stored code may import '
            f"{_listing(MODULE_IMPORTS)}"
            for alias in node.names
            if alias.name not in MODULE_IMPORTS
        ]
    if node.level:
        return ["relative imports are not allowed in stored instrument code"]
    module = node.module or ""
    if module not in FROM_IMPORTS:
        return [
            f'import from "{module}" is not allowed; stored code may import from '
            f"{_listing(FROM_IMPORTS)}"
        ]
    names = FROM_IMPORTS[module]
    return [
        f'"{alias.name}" may not be imported from "{module}"'
        for alias in node.names
        if alias.name != "*"  # RestrictedPython refuses star imports itself
        and (alias.name in FORBIDDEN_ATTRIBUTES or (names is not None and alias.name not in names))
    ]


def _listing(names: object) -> str:
    return ", ".join(sorted(names))  # type: ignore[call-overload]
