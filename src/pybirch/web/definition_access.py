"""Which stored definition a request may see or change, and in which of the user's labs.

A user sees a definition of one of their labs, a public one or a builtin one; another
lab's private definition is a 404, exactly like an id that does not exist. Only the
lab's own definitions change: members edit them, admins who did not write a version
review it. Builtin ones and other labs' public ones are read-only (403 on a write).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request

from pybirch.database.errors import NotFoundError
from pybirch.database.models import InstrumentDefinition, Lab, Role
from pybirch.web.auth.access import labs_of_current_user, require_lab_role
from pybirch.web.services import database


@dataclass(frozen=True)
class DefinitionContext:
    """A definition as one of the user's labs sees it, with the user's role there."""

    definition: InstrumentDefinition
    lab: Lab
    role: Role

    @property
    def editable(self) -> bool:
        """True if the definition is this lab's own (not builtin, not another lab's)."""
        return not self.definition.is_builtin and self.definition.lab_id == self.lab.id

    @property
    def can_write(self) -> bool:
        """True if the user may edit it or roll it back."""
        return self.editable and self.role.allows(Role.MEMBER)

    @property
    def can_review(self) -> bool:
        """True if the user may approve or reject its versions (not their own)."""
        return self.editable and self.role.allows(Role.ADMIN)

    def require_write(self) -> None:
        """403 unless the user may change the definition, saying why."""
        self._require(self.can_write, "edit")

    def require_review(self) -> None:
        """403 unless the user is an admin of the definition's lab."""
        self._require(self.can_review, "review")

    def _require(self, allowed: bool, what: str) -> None:
        if allowed:
            return
        if self.definition.is_builtin:
            abort(403, f"{self.definition.name} ships with PyBirch: it is read-only")
        if not self.editable:
            abort(403, f"{self.definition.name} is another lab's public definition: read-only")
        needed = "a lab admin" if what == "review" else "a member of the lab"
        abort(403, f"only {needed} may {what} {self.definition.name}")


def definition_context(definition_id: int) -> DefinitionContext:
    """The definition in the lab that sees it (``?lab=`` first, then its own lab); else 404."""
    labs = labs_of_current_user()
    wanted = request.args.get("lab", type=int)
    ordered = sorted(labs, key=lambda pair: pair[0].id != wanted)
    db = database()
    for lab, _ in ordered:
        try:
            definition = db.get_instrument_definition(definition_id, lab_id=lab.id)
        except NotFoundError:
            continue
        own = next((pair for pair in labs if pair[0].id == definition.lab_id), None)
        chosen = own[0] if own else lab
        return DefinitionContext(definition, chosen, require_lab_role(chosen.id))
    abort(404, f"instrument definition {definition_id} not found")


def writable_lab(lab_id: int | None) -> Lab:
    """A lab the user writes definitions in (members and above); 404 if not theirs."""
    if lab_id is None:
        abort(400, "say which lab: ?lab=<id> or lab_id in the body")
    require_lab_role(lab_id, Role.MEMBER)
    return database().get_lab(lab_id)
