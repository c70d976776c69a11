"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from pybirch import __version__
from pybirch.database.models.scans import QUEUE_STATUSES, SCAN_STATUSES
from pybirch.database.services.equipment_care import DUE_SOON_DAYS, MAX_CERTIFICATE_BYTES
from pybirch.database.services.paging import MAX_PER_PAGE
from pybirch.web.api.limits import (
    DEFAULT_LINE_POINTS,
    DEFAULT_PER_PAGE,
    MAX_LINE_POINTS,
    MAX_ROWS,
    MIN_LINE_POINTS,
    ORIGINS,
    PLOT_KINDS,
    VERSION_STATUSES,
)
from pybirch.web.listing import MAX_PAGE, MAX_ROW

_ERROR = {"$ref": "#/components/responses/Error"}


def _get(summary: str, parameters: list[dict[str, Any]], result: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": result,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
            },
        }
    }


def _post(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "done; the new state",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "401": _ERROR,
                "403": _ERROR,
                "404": _ERROR,
                "409": _ERROR,
            },
        }
    }


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, schema: dict[str, Any] | str, description: str) -> dict[str, Any]:
    """A query parameter; ``schema`` is a JSON schema or the name of a type."""
    schema = {"type": schema} if isinstance(schema, str) else schema
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _whole(minimum: int, maximum: int) -> dict[str, Any]:
    """The schema of a whole number the routes accept (see pybirch.web.listing)."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _listing(statuses: tuple[str, ...], text: str) -> list[dict[str, Any]]:
    """The parameters of a lab's paged list (see pybirch.web.listing)."""
    return [
        _path("lab_id", "integer"),
        _query("q", "string", text),
        _query("status", {"enum": list(statuses)}, "one status"),
        _query("page", _whole(1, MAX_PAGE), "page number from 1"),
        _query(
            "per_page",
            _whole(1, MAX_PER_PAGE),
            f"1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})",
        ),
    ]


_DATA_PARAMETERS = [
    _path("scan_id"),
    _path("measurement_name"),
    _query("start", _whole(0, MAX_ROW), "first row (default 0)"),
    _query(
        "end",
        _whole(0, MAX_ROW),
        f"one past the last row, at least start (default: all, at most {MAX_ROWS:,} rows)",
    ),
    _query("columns", "string", "comma-separated column labels (default: all)"),
]


_QUEUE_CONTROL = [
    _path("queue_id", "integer"),
    {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"enum": ["start", "pause", "resume", "abort"]},
    },
]
_SCAN_CONTROL = [
    _path("scan_id"),
    {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"enum": ["pause", "resume", "abort"]},
    },
]


def _write(
    method: str,
    summary: str,
    parameters: list[dict[str, Any]],
    done: str,
    created: bool = False,
) -> dict[str, Any]:
    """A route that takes a JSON body and may refuse it (403 role, 409 state, 422 invalid)."""
    return {
        method: {
            "summary": summary,
            "parameters": parameters,
            "requestBody": {
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "201" if created else "200": {
                    "description": done,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "404": _ERROR,
                "409": _ERROR,
                "422": {
                    "description": "the code does not validate: error.problems lists each "
                    "problem with its message, line, column and field",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    }


_INSTRUMENT = [_path("instrument_id", "integer")]
_COMPUTER_CHOICE = {
    "type": "integer",
    "description": "the computer to act on (default: the instrument's primary binding)",
}


def _manual(summary: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A manual action on an instrument (members): 200 done, 409 refused or failed."""
    return {
        "post": {
            "summary": summary,
            "parameters": _INSTRUMENT,
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"computer_id": _COMPUTER_CHOICE, **properties},
                        }
                    }
                }
            },
            "responses": {
                "200": {
                    "description": "done: action, outcome, computer and result",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "404": _ERROR,
                "409": {
                    "description": "refused by the station (outcome 'refused': a scan holds "
                    "the instrument, outside its limits, computer offline) or failed in the "
                    "instrument (outcome 'failed'); message says why",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    }


def _instrument_paths() -> dict[str, Any]:
    """One instrument's record and manual control."""
    base = "/api/instruments/{instrument_id}"
    return {
        base: _get(
            "One instrument: each computer it is bound to (driver, adapter, live state), "
            "last-known settings and status history",
            _INSTRUMENT,
            "instrument",
        ),
        f"{base}/move": _manual(
            "Move a movement instrument to a position, in its units (members)",
            {"position": {"type": "number"}},
        ),
        f"{base}/measure": _manual("Read a measurement instrument once (members)", {}),
        f"{base}/settings": _manual(
            "Set settings on the live instrument and write them back (members); "
            "without settings, its last-known ones",
            {"settings": {"type": "object"}},
        ),
    }


_DEFINITION = [_path("definition_id", "integer")]
_VERSION = [*_DEFINITION, _path("version", "integer")]
_LAB = _query("lab", "integer", "the lab (default: the caller's first)")


def _definition_paths() -> dict[str, Any]:
    """The instrument definition routes (the seed plan's names, under /api)."""
    base = "/api/instrument-definitions"
    return {
        base: {
            **_get(
                "Definitions the lab sees: its own, other labs' public ones and builtin ones",
                [
                    _LAB,
                    _query("type", {"enum": ["measurement", "movement"]}, "instrument type"),
                    _query("category", "string", "category"),
                    _query("status", {"enum": list(VERSION_STATUSES)}, "latest version's review"),
                    _query("origin", {"enum": list(ORIGINS)}, "lab, public or builtin"),
                ],
                "items: definition summaries",
            ),
            **_write(
                "post",
                "Create a definition in ?lab= (members); its code is validated, never run",
                [_LAB],
                "the definition with version 1, pending review",
                created=True,
            ),
        },
        f"{base}/validate": _write(
            "post", "Validate unsaved code and fields (parsed, compiled, never run)", [], "report"
        ),
        f"{base}/{{definition_id}}": {
            **_get("One definition with its latest code and versions", _DEFINITION, "definition"),
            **_write(
                "put",
                "Edit a lab's own definition (members); new code makes a new pending version",
                _DEFINITION,
                "the definition",
            ),
        },
        f"{base}/{{definition_id}}/validate": _write(
            "post",
            "Validate the stored latest version, or the body's source_code with its fields",
            _DEFINITION,
            "report",
        ),
        f"{base}/{{definition_id}}/versions": _get(
            "Every version: status, author, time, summary, review, test result",
            _DEFINITION,
            "items",
        ),
        f"{base}/{{definition_id}}/versions/{{version}}": _get(
            "One version with its code", _VERSION, "version"
        ),
        f"{base}/{{definition_id}}/diff": _get(
            "Unified diff of two versions' code",
            [
                *_DEFINITION,
                _query("from", "integer", "older version (default: the one before to)"),
                _query("to", "integer", "newer version (default: the latest)"),
            ],
            "from, to and diff",
        ),
        f"{base}/{{definition_id}}/rollback": _write(
            "post",
            'Roll back (members): {"version": n} becomes a new pending version',
            _DEFINITION,
            "the new version",
            created=True,
        ),
        f"{base}/{{definition_id}}/versions/{{version}}/approve": _write(
            "post",
            'Approve a pending version (a lab admin who is not its author): {"comment": ...}',
            _VERSION,
            "the version",
        ),
        f"{base}/{{definition_id}}/versions/{{version}}/reject": _write(
            "post",
            'Reject a pending version (a lab admin who is not its author): {"comment": why}',
            _VERSION,
            "the version",
        ),
        f"{base}/{{definition_id}}/audit": _get(
            "Everything done to the definition, oldest first", _DEFINITION, "items"
        ),
    }


def _equipment_care_paths() -> dict[str, Any]:
    """Calibrations of an instrument, and the instruments falling due."""
    calibration = {
        "type": "object",
        "required": ["calibrated_on"],
        "properties": {
            "calibrated_on": {"type": "string", "format": "date"},
            "due_on": {"type": "string", "format": "date"},
            "performed_by": {"type": "string", "maxLength": 255},
            "notes": {"type": "string"},
        },
    }
    with_file = {
        **calibration,
        "properties": {
            **calibration["properties"],
            "certificate": {
                "type": "string",
                "format": "binary",
                "description": f"PDF, PNG or JPEG, at most {MAX_CERTIFICATE_BYTES // 2**20} MB",
            },
        },
    }
    record = _write(
        "post",
        "Record a calibration (members): JSON, or multipart with a certificate file",
        [_path("instrument_id", "integer")],
        "the calibration",
        created=True,
    )
    record["post"]["requestBody"] = {
        "content": {
            "application/json": {"schema": calibration},
            "multipart/form-data": {"schema": with_file},
        }
    }
    return {
        "/api/instruments/due": _get(
            f"The caller's instruments whose calibration or maintenance is due within "
            f"{DUE_SOON_DAYS} days or overdue, most urgent first",
            [_query("lab", "integer", "one of the caller's labs (default: all)")],
            "today and items, each with calibration and maintenance state and due date",
        ),
        "/api/instruments/{instrument_id}/calibrations": {
            **_get(
                "An instrument's calibrations, newest first, and its due states today",
                [_path("instrument_id", "integer")],
                "instrument and items (certificate name, type, size, sha256, url)",
            ),
            **record,
        },
    }


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "PyBirch API", "version": __version__},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/v1/labs": _get("The caller's labs and roles", [], "labs"),
            "/api/v1/labs/{lab_id}/scans": _get(
                "A lab's scans, newest first",
                _listing(SCAN_STATUSES, "text in name, project, type, notes or tags"),
                "a page of scans with total and pages",
            ),
            "/api/v1/labs/{lab_id}/queues": _get(
                "A lab's queues, most recently changed first",
                _listing(QUEUE_STATUSES, "text in the queue's name"),
                "a page of queues with total and pages",
            ),
            "/api/v1/queues/{queue_id}": _get(
                "One queue with its scans, and whether it can be controlled now",
                [_path("queue_id", "integer")],
                "queue",
            ),
            "/api/v1/scans/{scan_id}": _get(
                "One scan with settings, instruments and measurements", [_path("scan_id")], "scan"
            ),
            "/api/v1/scans/{scan_id}/data/{measurement_name}": _get(
                "Rows of one measurement, column by column", _DATA_PARAMETERS, "rows"
            ),
            "/api/v1/scans/{scan_id}/plot/{measurement_name}": _get(
                "Plot data, downsampled: a line, a heatmap of a 2-D scan, or one point's spectrum",
                [
                    _path("scan_id"),
                    _path("measurement_name"),
                    _query("y", "string", "data column (default: the first)"),
                    _query("x", "string", "column for the x axis of a line"),
                    _query(
                        "kind",
                        {"enum": list(PLOT_KINDS)},
                        "default: grid for 2-D scans, spectrum for readings of several rows "
                        "per point, else line",
                    ),
                    _query(
                        "point",
                        _whole(0, MAX_ROW),
                        "the point of a spectrum (default: the last)",
                    ),
                    _query(
                        "max_points",
                        _whole(MIN_LINE_POINTS, MAX_LINE_POINTS),
                        f"points of a line, {MIN_LINE_POINTS} to {MAX_LINE_POINTS:,} "
                        f"(default {DEFAULT_LINE_POINTS:,})",
                    ),
                    _query("max_cells", "integer", "cells of a heatmap at most"),
                    *(
                        _query(name, "number", "the window a zoomed plot shows")
                        for name in ("x_min", "x_max", "y_min", "y_max")
                    ),
                ],
                "x, y (and z for a grid) arrays",
            ),
            "/api/v1/scans/{scan_id}/live": _get(
                "A scan's status, numbers, rows per measurement, controls and new log lines",
                [
                    _path("scan_id"),
                    _query("after_log", _whole(0, MAX_ROW), "only log lines after this id"),
                ],
                "scan summary with error_message, measurements, controls, controllable, logs",
            ),
            "/api/v1/scans/{scan_id}/notes": {
                "put": {
                    "summary": "Replace a scan's notes and/or tags (members)",
                    "parameters": [_path("scan_id")],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "notes": {"type": "string"},
                                        "tags": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "the notes and tags as stored",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": _ERROR,
                        "401": _ERROR,
                        "403": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/api/v1/scans/{scan_id}/overlays": _get(
                "Scans to overlay on this one's plot: its sample's others, or its lab's latest",
                [_path("scan_id")],
                "scans, each with its measurements' names",
            ),
            "/api/scan/{scan_id}/data/{measurement_name}": _get(
                "The same (the plan's route)", _DATA_PARAMETERS, "rows"
            ),
            "/api/v1/queues/{queue_id}/{action}": _post(
                "start, pause, resume or abort a queue (members)", _QUEUE_CONTROL
            ),
            "/api/queue/{queue_id}/{action}": _post("The same (the plan's route)", _QUEUE_CONTROL),
            "/api/v1/scans/{scan_id}/{action}": _post(
                "pause, resume or abort one scan of a queue (members)", _SCAN_CONTROL
            ),
            "/api/scan/{scan_id}/{action}": _post("The same (the plan's route)", _SCAN_CONTROL),
            "/api/instruments/status": _get(
                "Live health of the caller's instruments: computer, status (connected, "
                "disconnected, error, busy), last change and last error",
                [],
                "instruments",
            ),
            **_definition_paths(),
            **_instrument_paths(),
            **_equipment_care_paths(),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "personal token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "responses": {
                "Error": {
                    "description": "an error",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {
                                        "type": "object",
                                        "properties": {
                                            "code": {"type": "integer"},
                                            "message": {"type": "string"},
                                        },
                                    }
                                },
                            }
                        }
                    },
                }
            },
        },
    }
