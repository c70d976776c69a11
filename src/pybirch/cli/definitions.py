"""``pybirch definitions``: import, export, list and test the drivers a database keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from pybirch.cli.db import database_option, reported_errors
from pybirch.cli.lab_choice import choose_author, choose_lab, lab_option, user_option
from pybirch.database import DatabaseService
from pybirch.database.models import InstrumentDefinition, Lab
from pybirch.definitions.exporter import export_definitions
from pybirch.definitions.importer import DefinitionImporter, ImportResult, driver_files
from pybirch.definitions.testing import DEFAULT_TIMEOUT_S, run_version_test


@click.group()
def definitions() -> None:
    """Instrument drivers stored in the database: import, export, list, test."""


@definitions.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@lab_option
@user_option
@click.option("--dry-run", is_flag=True, help="Validate and report, but store nothing.")
@database_option
def import_command(
    path: Path, lab_name: str | None, user_name: str | None, dry_run: bool, database_url: str | None
) -> None:
    """Store the drivers of a folder (or file) of driver modules in a lab's library.

    Each module holding a driver class becomes a definition (its whole code), or a new
    version of the lab's definition of that name when the code changed. Files are read,
    never imported. Exits with 1 if any file does not validate.
    """
    with reported_errors(), DatabaseService(database_url) as db:
        lab = _lab(db, lab_name)
        importer = DefinitionImporter(
            db, lab_id=lab.id, author_id=choose_author(db, lab, user_name), dry_run=dry_run
        )
        results: list[ImportResult] = []
        files = driver_files(path)
        for file in _progress(files, "importing", lambda f: f.name):
            results.extend(importer.import_file(file))
    root = path if path.is_dir() else path.parent
    table = Table(title=f"{'Dry run: ' if dry_run else ''}import into {lab.name!r}")
    for column in ("file", "class", "result"):
        table.add_column(column)
    for result in results:
        style = "red" if result.failed else None
        table.add_row(
            str(result.path.relative_to(root)),
            result.class_name or "",
            result.describe(dry_run=dry_run),
            style=style,
        )
    Console().print(table)
    if any(result.failed for result in results):
        raise SystemExit(1)


@definitions.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@lab_option
@database_option
def export_command(directory: Path, lab_name: str | None, database_url: str | None) -> None:
    """Write every definition the lab sees as a standalone ``<name>.py`` driver file.

    Each file holds the approved version (else the latest, flagged in its header) with
    the imports it needs to run without PyBirch's database. Prints each file written.
    """
    with reported_errors(), DatabaseService(database_url) as db:
        lab = choose_lab(db, lab_name, required=False)
        lab_id = lab.id if lab else None
        shown = _progress(db.get_instrument_definitions(lab_id), "exporting", lambda d: d.name)
        written = export_definitions(db, directory, lab_id=lab_id, definitions=shown)
    for each in written:
        flag = "" if each.approved else "  (not approved)"
        click.echo(f"{each.path}  {each.name} v{each.version}{flag}")


@definitions.command("list")
@lab_option
@database_option
def list_command(lab_name: str | None, database_url: str | None) -> None:
    """Print the definitions the lab sees: version, approval, test status."""
    with reported_errors(), DatabaseService(database_url) as db:
        lab = choose_lab(db, lab_name, required=False)
        lab_id = lab.id if lab else None
        table = Table(title=f"Instrument definitions of {lab.name!r}" if lab else "Builtin")
        for column in ("name", "type", "origin", "version", "approved", "test"):
            table.add_column(column)
        for definition in db.get_instrument_definitions(lab_id):
            latest = db.get_definition_version(definition.id, definition.version, lab_id=lab_id)
            table.add_row(
                definition.name,
                definition.instrument_type,
                _origin(definition, lab_id),
                str(definition.version),
                f"v{definition.approved_version}" if definition.approved_version else "pending",
                _test_status(latest.test_code, latest.test_result),
            )
    Console().print(table)


@definitions.command("test")
@click.argument("name")
@lab_option
@click.option("--version", "version", type=int, default=None, help="Version [default: latest].")
@click.option(
    "--timeout", type=float, default=DEFAULT_TIMEOUT_S, show_default=True, help="Seconds."
)
@database_option
def test_command(
    name: str, lab_name: str | None, version: int | None, timeout: float, database_url: str | None
) -> None:
    """Run a definition version's own test against its simulated device and keep the result.

    Exits with 1 if the test fails.
    """
    console = Console()
    with reported_errors(), DatabaseService(database_url) as db:
        lab = choose_lab(db, lab_name, required=False)
        lab_id = lab.id if lab else None
        definition = _named(db, name, lab_id)
        number = version or definition.version
        with console.status(f"testing {definition.name} v{number}..."):
            result = run_version_test(db, definition.id, number, lab_id=lab_id, timeout_s=timeout)
    mark = "[green]passed[/]" if result["passed"] else "[red]failed[/]"
    console.print(f"{definition.name} v{number}: {mark} in {result['seconds']:.2f} s")
    if not result["passed"]:
        console.print(result["message"], markup=False, highlight=False)
    if result["output"]:
        console.rule("output")
        console.print(result["output"], markup=False, highlight=False, end="")
    console.print(f"recorded with version {number}", style="dim")
    if not result["passed"]:
        raise SystemExit(1)


def _lab(db: DatabaseService, lab_name: str | None) -> Lab:
    lab = choose_lab(db, lab_name)
    assert lab is not None  # required=True never gives None
    return lab


def _named(db: DatabaseService, name: str, lab_id: int | None) -> InstrumentDefinition:
    """The definition called ``name``: the lab's own first, then a builtin, then a public one."""
    found = [d for d in db.get_instrument_definitions(lab_id) if d.name == name]
    if not found:
        raise click.ClickException(f"no instrument definition called {name!r}")
    return min(found, key=lambda d: (d.lab_id != lab_id or lab_id is None, not d.is_builtin))


def _origin(definition: InstrumentDefinition, lab_id: int | None) -> str:
    if definition.is_builtin:
        return "builtin"
    return "this lab" if definition.lab_id == lab_id else "public"


def _test_status(test_code: str | None, result: dict[str, Any] | None) -> str:
    if not test_code:
        return "no test"
    if result is None:
        return "not run"
    return "passed" if result.get("passed") else f"failed: {result.get('message', '')}"


def _progress(items: Iterable[Any], what: str, label: Callable[[Any], str]) -> Iterator[Any]:
    """``items`` one by one, with a progress bar on standard error naming each."""
    items = list(items)
    columns = (
        SpinnerColumn(),
        TextColumn(f"{what} {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("", total=len(items))
        for item in items:
            progress.update(task, description=label(item))
            yield item
            progress.advance(task)
