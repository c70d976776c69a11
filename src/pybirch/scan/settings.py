"""ScanSettings: everything that defines a scan, round-tripping through JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pybirch.scan.errors import ScanDefinitionError
from pybirch.scan.extension import ScanExtension
from pybirch.scan.tree import ScanTree

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ScanSettings:
    """Names, tree and metadata of a scan; ``to_json``/``from_json`` round-trip it."""

    project_name: str
    scan_name: str
    scan_type: str = ""
    job_type: str = ""
    scan_tree: ScanTree = field(default_factory=ScanTree)
    extensions: list[ScanExtension] = field(default_factory=list)
    additional_tags: list[str] = field(default_factory=list)
    user_fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, arrays: bool = False) -> dict[str, Any]:
        """A JSON-able dict; extensions that hold live objects are left out (and logged).

        ``arrays=True``: irregular positions stay float64 arrays (see ``ScanTree.to_dict``).
        """
        extensions = []
        for extension in self.extensions:
            description = extension.to_dict()
            if description is None:
                log.info(
                    "scan %r: extension %r is not saved with the scan settings",
                    self.scan_name,
                    type(extension).__name__,
                )
            else:
                extensions.append(description)
        return {
            "project_name": self.project_name,
            "scan_name": self.scan_name,
            "scan_type": self.scan_type,
            "job_type": self.job_type,
            "scan_tree": self.scan_tree.to_dict(arrays=arrays),
            "extensions": extensions,
            "additional_tags": list(self.additional_tags),
            "user_fields": dict(self.user_fields),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanSettings:
        """Rebuild settings, instruments and extensions from :meth:`to_dict` output."""
        try:
            return cls(
                project_name=data["project_name"],
                scan_name=data["scan_name"],
                scan_type=data.get("scan_type", ""),
                job_type=data.get("job_type", ""),
                scan_tree=ScanTree.from_dict(data["scan_tree"]),
                extensions=[ScanExtension.from_dict(e) for e in data.get("extensions", [])],
                additional_tags=list(data.get("additional_tags", [])),
                user_fields=dict(data.get("user_fields", {})),
            )
        except KeyError as exc:
            raise ScanDefinitionError(f"scan settings lack the field {exc}") from exc

    def to_json(self, **kwargs: Any) -> str:
        """The settings as a JSON document."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> ScanSettings:
        """Settings from a JSON document written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScanDefinitionError(f"scan settings are not valid JSON: {exc}") from exc
        return cls.from_dict(data)
