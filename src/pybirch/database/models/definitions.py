"""Instrument drivers stored in the database, and the lab computers that run them.

Filled by the definitions issue; the tables exist from the first migration so the
schema is designed once. A version is runnable only once approved by a lab admin who
is not its author, and is pinned by the hash of its code.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pybirch.database.models.base import Base, Created, Updated

if TYPE_CHECKING:
    from pybirch.database.models.instruments import Instrument


class InstrumentDefinition(Base, Updated):
    """A driver class kept in the database; its code lives in its versions."""

    __tablename__ = "instrument_definitions"
    __table_args__ = (UniqueConstraint("lab_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    instrument_type: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(255), default=None)
    base_class: Mapped[str] = mapped_column(String(100), default="")
    dependencies: Mapped[list[str]] = mapped_column(default=list)
    settings_schema: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    default_settings: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    data_columns: Mapped[list[str] | None] = mapped_column(default=None)
    data_units: Mapped[list[str] | None] = mapped_column(default=None)
    position_column: Mapped[str | None] = mapped_column(String(100), default=None)
    position_units: Mapped[str | None] = mapped_column(String(50), default=None)
    #: Latest version number (its code is in :class:`InstrumentDefinitionVersion`).
    version: Mapped[int] = mapped_column(default=1)
    #: The version lab computers run (approved); None until one is approved.
    approved_version: Mapped[int | None] = mapped_column(default=None)
    #: sha256 of the approved version's code, taken when it was approved: the pin a
    #: computer checks the code it loads against.
    approved_code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    is_public: Mapped[bool] = mapped_column(default=False)
    is_builtin: Mapped[bool] = mapped_column(default=False)

    versions: Mapped[list[InstrumentDefinitionVersion]] = relationship(
        back_populates="definition",
        order_by="InstrumentDefinitionVersion.version",
        cascade="all, delete-orphan",
    )
    instances: Mapped[list[Instrument]] = relationship(back_populates="definition")
    audit: Mapped[list[InstrumentDefinitionAudit]] = relationship(
        back_populates="definition",
        order_by="InstrumentDefinitionAudit.id",
        cascade="all, delete-orphan",
    )


class InstrumentDefinitionVersion(Base, Created):
    """One version of a definition's code, with its approval."""

    __tablename__ = "instrument_definition_versions"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_definitions.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column()
    source_code: Mapped[str] = mapped_column(Text)
    #: sha256 of ``source_code``; a computer runs only code matching an approved hash.
    code_hash: Mapped[str] = mapped_column(String(64))
    change_summary: Mapped[str | None] = mapped_column(Text, default=None)
    #: pending, approved, rejected, or superseded (left pending when a later one was approved).
    status: Mapped[str] = mapped_column(String(20), default="draft")
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)
    #: A pyvisa-sim device description (YAML) the version's own test talks to, if any.
    sim_device: Mapped[str | None] = mapped_column(Text, default=None)
    #: A short test of the driver (``def test(instrument): ...``), run sandboxed.
    test_code: Mapped[str | None] = mapped_column(Text, default=None)
    #: The last run of that test: ``{"passed": bool, "message": str, "seconds": float, ...}``.
    test_result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    tested_at: Mapped[datetime | None] = mapped_column(default=None)

    definition: Mapped[InstrumentDefinition] = relationship(back_populates="versions")


class InstrumentDefinitionAudit(Base, Created):
    """One thing done to a definition: who (``created_by_id``), when, what, which version, why."""

    __tablename__ = "instrument_definition_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_definitions.id", ondelete="CASCADE"), index=True
    )
    #: created, edited, updated (metadata only), approved, rejected or rolled_back.
    action: Mapped[str] = mapped_column(String(20))
    #: The version the action made or reviewed (for ``updated``: the latest one).
    version: Mapped[int | None] = mapped_column(default=None)
    #: The change summary or the reviewer's comment.
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    #: What else is worth keeping: changed fields, the code hash approved, the version restored.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    definition: Mapped[InstrumentDefinition] = relationship(back_populates="audit")


class Computer(Base, Updated):
    """A computer that runs instruments and queues: a lab's agent, or a server's own (no lab).

    ``computer_id`` is the id the computer reports of itself (see
    :func:`pybirch.definitions.get_computer_info`), stable across restarts; it is unique
    within a lab (one machine may serve two labs, as two records) and among the lab-less
    server computers. A computer an admin just added has none until its agent first reports.
    """

    __tablename__ = "computers"
    __table_args__ = (
        UniqueConstraint("lab_id", "computer_id"),
        # A unique constraint treats every NULL lab as distinct, so it cannot keep two
        # server computers (lab NULL) from sharing a machine id; this partial index does.
        Index(
            "uq_computers_server_computer_id",
            "computer_id",
            unique=True,
            sqlite_where=text("lab_id IS NULL"),
            postgresql_where=text("lab_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int | None] = mapped_column(
        ForeignKey("labs.id", ondelete="CASCADE"), index=True, default=None
    )
    #: The name it was added with, or its host name when it registered itself.
    computer_name: Mapped[str] = mapped_column(String(255))
    #: The stable id the computer reports (a keyed hash of its machine id), or None.
    computer_id: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Host name the computer last reported.
    hostname: Mapped[str | None] = mapped_column(String(255), default=None)
    #: What the lab calls it ("cryostat PC"), set by a lab admin; shown instead of the name.
    nickname: Mapped[str | None] = mapped_column(String(100), default=None)
    #: Where it stands ("room 2.14, bench 3"), set by a lab admin.
    location: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Operating system (``platform.system()``: Linux, Windows, Darwin).
    os: Mapped[str | None] = mapped_column(String(50), default=None)
    #: The OS user the agent runs as.
    username: Mapped[str | None] = mapped_column(String(100), default=None)
    platform: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Hash of the agent's token; the token itself is never stored.
    token_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    last_seen: Mapped[datetime | None] = mapped_column(default=None)
    extra_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    bindings: Mapped[list[ComputerBinding]] = relationship(
        back_populates="computer", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        """The nickname if the lab gave one, else its name."""
        return self.nickname or self.computer_name


class ComputerBinding(Base, Updated):
    """An instrument attached to a computer, with the adapter and settings it last used."""

    __tablename__ = "computer_bindings"
    __table_args__ = (UniqueConstraint("instrument_id", "computer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    computer_id: Mapped[int] = mapped_column(
        ForeignKey("computers.id", ondelete="CASCADE"), index=True
    )
    adapter: Mapped[str | None] = mapped_column(String(255), default=None)
    adapter_type: Mapped[str | None] = mapped_column(String(50), default=None)
    is_primary: Mapped[bool] = mapped_column(default=True)
    last_connected: Mapped[datetime | None] = mapped_column(default=None)
    last_settings: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    #: Keyword arguments the driver is constructed with on this computer.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The driver the computer last loaded for it: ``{"kind": "definition"|"file"|"installed",
    #: "name", "version", "code_hash", "path"}`` (None until it loaded one).
    loaded_driver: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    instrument: Mapped[Instrument] = relationship(back_populates="computer_bindings")
    computer: Mapped[Computer] = relationship(back_populates="bindings")
