"""``pybirch export``: write a stored scan to CSV, HDF5 or Parquet files."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pybirch.cli.db import database_option, reported_errors
from pybirch.cli.scan_choice import resolve_scan_id
from pybirch.database import DatabaseService
from pybirch.database.export import FORMATS, export_scan


@click.command()
@click.argument("scan_id")
@click.option(
    "--format",
    "format_name",
    type=click.Choice(list(FORMATS), case_sensitive=False),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path(),
    show_default="the current directory",
    help="Directory for the files, or a file path when the export makes one file.",
)
@click.option("--measurement", default=None, help="Export only this measurement of the scan.")
@database_option
def export(
    scan_id: str,
    format_name: str,
    output: Path,
    measurement: str | None,
    database_url: str | None,
) -> None:
    """Write a stored scan to CSV, HDF5 or Parquet files.

    SCAN_ID is the scan's public hex id (or its first characters, if no other scan's id
    starts so, as `pybirch demo` prints it) or its database id. Prints each file written.
    """
    console = Console(stderr=True)
    columns = (
        TextColumn("exporting {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
    )
    with (
        reported_errors(),
        DatabaseService(database_url) as db,
        Progress(*columns, console=console) as progress,
    ):
        tasks: list[TaskID] = []

        def report(rows_done: int, rows_total: int) -> None:
            if not tasks:  # the first report: the scan and its measurements are found
                tasks.append(progress.add_task(scan_id, total=rows_total))
            progress.update(tasks[0], completed=rows_done, total=rows_total)

        full_id = resolve_scan_id(db, scan_id)
        paths = export_scan(db, full_id, output, format_name, measurement, report)
    for path in paths:
        click.echo(str(path))
