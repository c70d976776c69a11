"""``pybirch demo``: a queue of two scans on simulated instruments, with live progress."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pybirch.cli.db import reported_errors
from pybirch.cli.scan_choice import short_id
from pybirch.database import DatabaseService
from pybirch.database_integration import DatabaseQueue
from pybirch.demo import DemoLab, build_demo_lab
from pybirch.scan import ScanState


@click.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pybirch-demo-data"),
    show_default=True,
    help="Directory the CSV files are written to.",
)
@click.option("--fast", is_flag=True, help="Zero instrument delays and a smaller map.")
@click.option(
    "--database",
    metavar="URL",
    default=None,
    help="Database to store the scans in (default: DATABASE_URL or the embedded SQLite file).",
)
@click.option("--no-database", is_flag=True, help="Write the CSV files only.")
@click.option(
    "--lab",
    "lab_name",
    metavar="LAB",
    default=None,
    help="Lab (name or id) to store the scans in [default: the embedded database's default "
    "lab, the one `pybirch serve` shows its first admin].",
)
def demo(
    output: Path, fast: bool, database: str | None, no_database: bool, lab_name: str | None
) -> None:
    """Run an I-V sweep and a 2-D lock-in map on simulated instruments."""
    console = Console()
    with contextlib.ExitStack() as stack:
        stack.enter_context(reported_errors())
        db = None if no_database else stack.enter_context(DatabaseService(database))
        lab = build_demo_lab(output, fast=fast, db=db, lab=lab_name)
        if isinstance(lab.queue, DatabaseQueue):
            stack.callback(lab.queue.close)
        where = "" if db is None else f", stored in {db.url}{_lab_words(db, lab.lab_id)}"
        console.print(
            f"[bold]PyBirch demo[/]: {len(lab.scans)} scans in queue {lab.queue.queue_id!r}{where}"
        )
        lab.queue.start()
        _follow(lab, console)
        console.print(_summary(lab))
        if lab.scan_ids:
            console.print(
                f"Export a scan with [bold]pybirch export {short_id(lab.scan_ids[-1])} "
                "--format hdf5[/]"
            )
            if lab.lab_id is not None:
                console.print("See them in the web UI: [bold]pybirch serve[/], then Scans.")
    failed = [scan for scan in lab.scans if scan.state is not ScanState.COMPLETED]
    if failed:
        for scan in failed:
            console.print(f"[red]{scan.name} {scan.state.value}[/]: {scan.error!r}")
        raise SystemExit(1)


def _lab_words(db: DatabaseService, lab_id: int | None) -> str:
    """ ", lab 'NAME'" for the lab the scans go to (a warning if none: no one sees them)."""
    if lab_id is None:
        return " (in no lab: pass --lab for the web UI to show them)"
    return f", lab {db.get_lab(lab_id).name!r}"


def _follow(lab: DemoLab, console: Console) -> None:
    """Show a progress bar per scan until the queue is done."""
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]:<10}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks = [
            progress.add_task(scan.name, total=scan.total_points, state="queued")
            for scan in lab.scans
        ]
        while not lab.queue.wait_for_completion(timeout=0.1):
            _update(progress, tasks, lab)
        _update(progress, tasks, lab)


def _update(progress: Progress, tasks: list, lab: DemoLab) -> None:
    for task, scan in zip(tasks, lab.scans, strict=True):
        progress.update(task, completed=scan.points_done, state=scan.state.value)


def _summary(lab: DemoLab) -> Table:
    table = Table(title="Data written")
    for column in ("scan", "state", "points", "seconds", "scan id", "files"):
        table.add_column(column)
    ids = lab.scan_ids or [""] * len(lab.scans)
    for scan, writer, full_id in zip(lab.scans, lab.csv, ids, strict=True):
        scan_id = short_id(full_id)
        seconds = (scan.finished_at or time.time()) - (scan.started_at or time.time())
        files = "\n".join(str(path) for path in writer.paths.values())
        table.add_row(
            scan.name, scan.state.value, str(scan.points_done), f"{seconds:.1f}", scan_id, files
        )
    return table
