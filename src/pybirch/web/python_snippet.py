"""The "load this scan in Python" code a scan page offers, for the database this server uses.

The code names the server's database URL without its password (and without query
arguments that could hold one): the reader's own credentials (``PGPASSWORD``,
``~/.pgpass``) complete it.
"""

from __future__ import annotations

import keyword
import re

from sqlalchemy.engine import URL, make_url

#: Query arguments of a URL that may carry a secret; left out of the code shown.
SECRET_QUERY_WORDS = ("pass", "secret", "token", "key")


def public_url(url: URL | str) -> str:
    """The URL with no password and no secret-looking query argument."""
    url = make_url(url)
    query = {
        name: value
        for name, value in url.query.items()
        if not any(word in name.lower() for word in SECRET_QUERY_WORDS)
    }
    # URL.set(password=None) keeps the password ("not given"): build the URL anew without it.
    shown = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, query)
    return shown.render_as_string(hide_password=False)


def python_snippet(
    url: URL | str, scan_id: str, measurements: list[str], gridded: bool = True
) -> str:
    """Python code that reads the scan's measurements into pandas (and xarray for grids)."""
    shown = public_url(url)
    lines = [
        "from pybirch.database import DatabaseService",
        "",
        f"db = DatabaseService({shown!r})",
    ]
    if make_url(url).get_backend_name() == "postgresql":
        lines[-1] += "  # password from PGPASSWORD or ~/.pgpass"
    lines.append(f"scan = db.get_scan({scan_id!r})")
    if not measurements:
        lines.append("# no data stored yet: db.read_scan_data(scan.id, NAME) once there is")
        return "\n".join(lines) + "\n"
    names: set[str] = set()
    for measurement in measurements:
        name = _variable(measurement, names)
        lines.append(f"{name} = db.read_scan_data(scan.id, {measurement!r})")
        lines.append(f"{name}_frame = {name}.to_dataframe()  # one row per reading")
        if gridded:
            lines.append(f"{name}_grid = {name}.to_xarray()  # one dimension per axis")
    return "\n".join(lines) + "\n"


def _variable(measurement: str, taken: set[str]) -> str:
    """A Python name for a measurement's data: ``Lock-in`` becomes ``lock_in``."""
    base = re.sub(r"\W+", "_", measurement.lower(), flags=re.ASCII).strip("_") or "data"
    if base[0].isdigit() or keyword.iskeyword(base) or base in ("db", "scan"):
        base = f"data_{base}"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name
