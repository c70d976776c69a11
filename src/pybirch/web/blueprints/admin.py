"""Lab membership, managed by a lab's admins and owners."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from pybirch.database.models import Role
from pybirch.database.services.accounts import LastOwnerError, MembershipDenied
from pybirch.web.auth.access import require_lab_role
from pybirch.web.auth.passwords import generate_password, hash_password
from pybirch.web.services import database
from pybirch.web.sockets import disconnect_user

blueprint = Blueprint("admin", __name__, url_prefix="/labs")

ROLE_CHOICES = [SelectChoice(role.value, role.value) for role in Role]


class MemberForm(FlaskForm):
    """A user name (new or existing) and the role to give."""

    username = StringField(
        "User name",
        validators=[
            DataRequired(),
            Length(max=100),
            # \Z, not $: "$" also matches before a final newline, which would make
            # "alice\n" an account that looks like alice.
            Regexp(r"[A-Za-z0-9_.@-]+\Z", message="letters, digits and _ . @ - only"),
        ],
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value)


class RoleForm(FlaskForm):
    """A new role for a member."""

    role = SelectField("Role", choices=ROLE_CHOICES)


@blueprint.route("/<int:lab_id>/members")
@login_required
def members(lab_id: int) -> str:
    """The lab's members and their roles; admins and owners can change them."""
    role = require_lab_role(lab_id)
    db = database()
    return render_template(
        "members.html",
        lab=db.get_lab(lab_id),
        members=db.list_memberships(lab_id),
        role=role,
        can_manage=role.allows(Role.ADMIN),
        form=MemberForm(),
        role_form=RoleForm(),
    )


@blueprint.route("/<int:lab_id>/members", methods=["POST"])
@login_required
def add_member(lab_id: int) -> Response:
    """Add a user (made with a one-time password if new) to the lab with a role."""
    manager = require_lab_role(lab_id, Role.ADMIN)
    form = MemberForm()
    if not form.validate_on_submit():
        flash(
            "; ".join(f"{form[n].label.text}: {', '.join(e)}" for n, e in form.errors.items()),
            "error",
        )
        return redirect(url_for("admin.members", lab_id=lab_id))
    role = Role(form.role.data)
    if role is Role.OWNER and manager is not Role.OWNER:
        abort(403, "only an owner grants ownership")  # before any account is made
    db = database()
    name = form.username.data
    # The answer must not tell whether the name has an account on this server (an admin
    # of their own lab could probe every name): the same work, the same message, and a
    # one-time password either way, valid only if the account is made now.
    password = generate_password()
    password_hash = hash_password(password)
    user = db.get_user_by_username(name) or db.create_user(
        name,
        password_hash=password_hash,
        must_change_password=True,  # replaced at the first login
        created_by_id=current_user.id,
    )
    _change(lab_id, user.id, role)
    flash(
        f"{name} is {role.value} of the lab. If {name} had no account, one was made with the "
        f"one-time password {password}: pass it on now ({name} chooses a new one at the first "
        f"login). An existing account keeps its password.",
        "info",
    )
    return redirect(url_for("admin.members", lab_id=lab_id))


@blueprint.route("/<int:lab_id>/members/<int:user_id>/role", methods=["POST"])
@login_required
def change_role(lab_id: int, user_id: int) -> Response:
    """Give a member another role."""
    require_lab_role(lab_id, Role.ADMIN)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    if database().get_role(lab_id, user_id) is None:
        abort(404)
    new = Role(form.role.data)
    _change(lab_id, user_id, new)
    flash(f"Role changed to {new.value}.", "info")
    return redirect(url_for("admin.members", lab_id=lab_id))


@blueprint.route("/<int:lab_id>/members/<int:user_id>/remove", methods=["POST"])
@login_required
def remove_member(lab_id: int, user_id: int) -> Response:
    """Take a member out of the lab (their data stays)."""
    require_lab_role(lab_id, Role.ADMIN)
    if database().get_role(lab_id, user_id) is None:
        abort(404)
    _change(lab_id, user_id, None)
    flash("Member removed.", "info")
    return redirect(url_for("admin.members", lab_id=lab_id))


def _change(lab_id: int, user_id: int, role: Role | None) -> None:
    """Apply the service's one membership rule: 403 if not allowed, a message if no owner stays."""
    try:
        database().change_membership(lab_id, user_id, role, by=current_user.id)
    except MembershipDenied as exc:
        abort(403, str(exc))
    except LastOwnerError:
        flash("A lab keeps at least one owner: make someone else owner first.", "error")
        abort(redirect(url_for("admin.members", lab_id=lab_id)))
    if role is None:
        # Their open pages must stop receiving the lab's events: close their connections;
        # they reconnect and can join only the rooms they may still see.
        disconnect_user(user_id)
