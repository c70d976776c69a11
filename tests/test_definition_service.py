"""Instrument definitions in the database, on both backends: versions, visibility, review, audit."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from definition_examples import SEED_LOCKIN, SEED_LOCKIN_CODE, STAGE_CODE
from pybirch.database import DatabaseService, DuplicateError, NotFoundError
from pybirch.database.errors import (
    ApprovalDenied,
    CodeIntegrityError,
    DatabaseError,
    DefinitionPermissionError,
    ReadOnlyDefinitionError,
    ReviewStateError,
)
from pybirch.database.models import InstrumentDefinitionVersion
from pybirch.definitions import DefinitionLibrary, InvalidDefinitionError

FIELDS = {
    k: v for k, v in SEED_LOCKIN.items() if k not in ("name", "instrument_type", "source_code")
}
EDITED_CODE = SEED_LOCKIN_CODE.replace(
    "return np.array([[x, y, r, theta]])", "return np.array([[x, y, r, theta * 1.0]])"
)


@pytest.fixture
def people(db: DatabaseService) -> SimpleNamespace:
    """Two labs; in Optics an author (member), two admins, an owner and a viewer."""
    optics, magnetism = db.create_lab("Optics"), db.create_lab("Magnetism")
    found = SimpleNamespace(lab=optics.id, other_lab=magnetism.id)
    for name, lab, role in [
        ("author", optics, "member"),
        ("admin", optics, "admin"),
        ("admin2", optics, "admin"),
        ("owner", optics, "owner"),
        ("viewer", optics, "viewer"),
        ("stranger", magnetism, "admin"),
    ]:
        user = db.create_user(name)
        db.set_membership(lab.id, user.id, role)
        setattr(found, name, user.id)
    return found


def create(db: DatabaseService, people: SimpleNamespace, **more: Any):
    values = {**FIELDS, **more}
    return db.create_instrument_definition(
        values.pop("lab_id", people.lab),
        values.pop("name", "MyLockIn"),
        values.pop("instrument_type", "measurement"),
        values.pop("source_code", SEED_LOCKIN_CODE),
        author_id=values.pop("author_id", people.author),
        **values,
    )


def actions(db: DatabaseService, definition_id: int, lab_id: int) -> list[tuple]:
    return [
        (row.action, row.version, row.created_by_id, row.comment)
        for row in db.get_definition_audit(definition_id, lab_id=lab_id)
    ]


# -- create and read -----------------------------------------------------------------------


def test_create_stores_the_seed_definition_with_version_1_pending(db, people) -> None:
    definition = create(db, people, change_summary="first")
    assert (definition.name, definition.display_name) == ("MyLockIn", "My Lock-In Amplifier")
    assert (definition.lab_id, definition.version, definition.approved_version) == (
        people.lab,
        1,
        None,
    )
    assert definition.settings_schema == SEED_LOCKIN["settings_schema"]
    assert definition.data_columns == ["X", "Y", "R", "Theta"]
    (version,) = db.get_definition_versions(definition.id, lab_id=people.lab)
    assert (version.version, version.status, version.change_summary) == (1, "pending", "first")
    assert version.created_by_id == people.author
    assert version.created_at is not None
    assert version.code_hash == hashlib.sha256(SEED_LOCKIN_CODE.encode()).hexdigest()
    assert actions(db, definition.id, people.lab) == [("created", 1, people.author, "first")]


def test_names_are_unique_within_a_lab_only(db, people) -> None:
    create(db, people)
    with pytest.raises(DuplicateError):
        create(db, people)
    stranger = create(db, people, lab_id=people.other_lab, author_id=people.stranger)
    assert stranger.lab_id == people.other_lab


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"author_id": "viewer"}, DefinitionPermissionError),
        ({"author_id": "stranger"}, DefinitionPermissionError),
        ({"instrument_type": "fabrication"}, ValueError),
        ({"source_code": "  "}, ValueError),
        ({"settings_schema": {"x": float("nan")}}, ValueError),
        ({"colour": "red"}, DatabaseError),
        ({"lab_id": None}, DatabaseError),
    ],
)
def test_create_refuses_what_storage_cannot_hold_or_the_author_may_not_write(
    db, people, change: dict[str, Any], error: type[Exception]
) -> None:
    if "author_id" in change:
        change = {"author_id": getattr(people, change["author_id"])}
    with pytest.raises(error):
        create(db, people, **change)
    assert db.get_instrument_definitions(people.lab) == []


def test_a_lab_sees_its_own_public_and_builtin_definitions_never_anothers_private(
    db, people
) -> None:
    own = create(db, people, name="OwnLockIn")
    stage = create(
        db,
        people,
        name="OwnStage",
        instrument_type="movement",
        source_code=STAGE_CODE,
        category="Stages",
    )
    private = create(db, people, name="Secret", lab_id=people.other_lab, author_id=people.stranger)
    public = create(
        db,
        people,
        name="Shared",
        lab_id=people.other_lab,
        author_id=people.stranger,
        is_public=True,
    )
    builtin = create(db, people, name="Builtin", lab_id=None, author_id=None, is_builtin=True)

    def names(*args: Any, **kwargs: Any) -> list[str]:
        return [d.name for d in db.get_instrument_definitions(*args, **kwargs)]

    assert names(people.lab) == ["Builtin", "OwnLockIn", "OwnStage", "Shared"]
    assert names(people.lab, "movement") == ["OwnStage"]
    assert names(people.lab, include_public=False, include_builtin=False) == [
        "OwnLockIn",
        "OwnStage",
    ]
    assert names(people.lab, category="Lock-In Amplifiers") == ["Builtin", "OwnLockIn", "Shared"]
    assert names(people.other_lab) == ["Builtin", "Secret", "Shared"]
    assert names() == ["Builtin", "Shared"]

    for seen in (own, stage, public, builtin):
        assert db.get_instrument_definition(seen.id, lab_id=people.lab).id == seen.id
    for call in (
        lambda: db.get_instrument_definition(private.id, lab_id=people.lab),
        lambda: db.get_definition_versions(private.id, lab_id=people.lab),
        lambda: db.get_definition_audit(private.id, lab_id=people.lab),
        lambda: db.diff_definition_versions(private.id, 1, 1, lab_id=people.lab),
        lambda: db.get_instrument_definition(10**12, lab_id=people.lab),
        lambda: db.update_instrument_definition(
            private.id, lab_id=people.lab, author_id=people.author, description="x"
        ),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_builtin_and_other_labs_public_definitions_are_read_only(db, people) -> None:
    builtin = create(db, people, name="Builtin", lab_id=None, author_id=None, is_builtin=True)
    assert (builtin.approved_version, builtin.approved_code_hash) == (
        1,
        hashlib.sha256(SEED_LOCKIN_CODE.encode()).hexdigest(),
    )
    public = create(
        db,
        people,
        name="Shared",
        lab_id=people.other_lab,
        author_id=people.stranger,
        is_public=True,
    )
    for definition in (builtin, public):
        with pytest.raises(ReadOnlyDefinitionError):
            db.update_instrument_definition(
                definition.id, lab_id=people.lab, author_id=people.author, source_code=EDITED_CODE
            )
        with pytest.raises(ReadOnlyDefinitionError):
            db.rollback_instrument_definition(
                definition.id, 1, lab_id=people.lab, author_id=people.author
            )
        with pytest.raises(ReadOnlyDefinitionError):
            db.approve_definition_version(
                definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="ok"
            )


# -- editing, versions, diff, rollback -----------------------------------------------------


def test_every_code_change_makes_a_version_and_metadata_changes_do_not(db, people) -> None:
    definition = create(db, people)
    edited = db.update_instrument_definition(
        definition.id,
        lab_id=people.lab,
        author_id=people.admin,
        source_code=EDITED_CODE,
        change_summary="theta as float",
    )
    assert edited.version == 2
    same = db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.admin, source_code=EDITED_CODE
    )
    assert same.version == 2  # equal code is no change
    renamed = db.update_instrument_definition(
        definition.id,
        lab_id=people.lab,
        author_id=people.author,
        description="the lab's SR830",
        change_summary="describe it",
    )
    assert (renamed.version, renamed.description) == (2, "the lab's SR830")

    versions = db.get_definition_versions(definition.id, lab_id=people.lab)
    assert [(v.version, v.status, v.created_by_id, v.change_summary) for v in versions] == [
        (1, "pending", people.author, None),
        (2, "pending", people.admin, "theta as float"),
    ]
    assert versions[1].source_code == EDITED_CODE
    assert versions[1].created_at >= versions[0].created_at
    assert actions(db, definition.id, people.lab) == [
        ("created", 1, people.author, None),
        ("edited", 2, people.admin, "theta as float"),
        ("updated", 2, people.author, "describe it"),
    ]
    audit = db.get_definition_audit(definition.id, lab_id=people.lab)
    assert audit[2].details == {"fields": ["description"]}


def test_unknown_fields_and_viewers_cannot_edit(db, people) -> None:
    definition = create(db, people)
    with pytest.raises(DatabaseError):
        db.update_instrument_definition(
            definition.id, lab_id=people.lab, author_id=people.author, lab_idx=3
        )
    with pytest.raises(DefinitionPermissionError):
        db.update_instrument_definition(
            definition.id, lab_id=people.lab, author_id=people.viewer, source_code=EDITED_CODE
        )
    assert db.get_instrument_definition(definition.id, lab_id=people.lab).version == 1


def test_diff_between_any_two_versions(db, people) -> None:
    definition = create(db, people)
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, source_code=EDITED_CODE
    )
    diff = db.diff_definition_versions(definition.id, 1, 2, lab_id=people.lab)
    assert diff.startswith("--- MyLockIn version 1\n+++ MyLockIn version 2\n@@")
    assert "-        return np.array([[x, y, r, theta]])" in diff
    assert "+        return np.array([[x, y, r, theta * 1.0]])" in diff
    assert db.diff_definition_versions(definition.id, 2, 2, lab_id=people.lab) == ""
    with pytest.raises(NotFoundError):
        db.diff_definition_versions(definition.id, 1, 3, lab_id=people.lab)


def test_rollback_makes_a_new_pending_version_with_the_old_code(db, people) -> None:
    definition = create(db, people)
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, source_code=EDITED_CODE
    )
    db.approve_definition_version(
        definition.id, 2, lab_id=people.lab, reviewer_id=people.admin, comment="ok"
    )
    back = db.rollback_instrument_definition(
        definition.id, 1, lab_id=people.lab, author_id=people.admin2
    )
    assert (back.version, back.status, back.source_code) == (3, "pending", SEED_LOCKIN_CODE)
    assert back.change_summary == "rolled back to version 1"
    stored = db.get_instrument_definition(definition.id, lab_id=people.lab)
    assert (stored.version, stored.approved_version) == (3, 2)  # version 2 runs until reviewed
    last = db.get_definition_audit(definition.id, lab_id=people.lab)[-1]
    assert (last.action, last.version, last.created_by_id) == ("rolled_back", 3, people.admin2)
    assert last.details == {"restored_version": 1}
    assert db.diff_definition_versions(definition.id, 1, 3, lab_id=people.lab) == ""
    with pytest.raises(NotFoundError):
        db.rollback_instrument_definition(
            definition.id, 9, lab_id=people.lab, author_id=people.admin
        )


# -- review --------------------------------------------------------------------------------


def test_another_admin_approves_and_the_definition_is_pinned_by_the_code_hash(db, people) -> None:
    definition = create(db, people)
    approved = db.approve_definition_version(
        definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="read it"
    )
    assert (approved.status, approved.approved_by_id, approved.review_note) == (
        "approved",
        people.admin,
        "read it",
    )
    assert approved.approved_at is not None
    stored = db.get_instrument_definition(definition.id, lab_id=people.lab)
    assert stored.approved_version == 1
    assert stored.approved_code_hash == approved.code_hash
    last = db.get_definition_audit(definition.id, lab_id=people.lab)[-1]
    assert (last.action, last.version, last.created_by_id, last.comment) == (
        "approved",
        1,
        people.admin,
        "read it",
    )
    assert last.details == {"code_hash": approved.code_hash}
    with pytest.raises(ReviewStateError):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin2, comment="again"
        )


@pytest.mark.parametrize("reviewer", ["author", "viewer", "stranger"])
def test_only_a_lab_admin_reviews(db, people, reviewer: str) -> None:
    definition = create(db, people)
    for review in (db.approve_definition_version, db.reject_definition_version):
        with pytest.raises(ApprovalDenied):
            review(
                definition.id,
                1,
                lab_id=people.lab,
                reviewer_id=getattr(people, reviewer),
                comment="no",
            )
    assert db.get_definition_versions(definition.id, lab_id=people.lab)[0].status == "pending"


def test_an_admin_never_reviews_a_version_they_wrote(db, people) -> None:
    definition = create(db, people, author_id=people.admin)
    with pytest.raises(ApprovalDenied, match="another lab admin"):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="mine"
        )
    db.approve_definition_version(
        definition.id, 1, lab_id=people.lab, reviewer_id=people.owner, comment="the owner's"
    )
    assert db.get_instrument_definition(definition.id, lab_id=people.lab).approved_version == 1


def test_another_lab_cannot_review_by_passing_its_own_lab(db, people) -> None:
    definition = create(db, people)
    with pytest.raises(NotFoundError):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.other_lab, reviewer_id=people.stranger, comment="x"
        )


def test_rejection_needs_a_comment_and_the_version_never_runs(db, people) -> None:
    definition = create(db, people)
    with pytest.raises(ValueError, match="comment"):
        db.reject_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment=" "
        )
    rejected = db.reject_definition_version(
        definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="no timeout"
    )
    assert (rejected.status, rejected.review_note) == ("rejected", "no timeout")
    assert db.get_instrument_definition(definition.id, lab_id=people.lab).approved_version is None
    with pytest.raises(ReviewStateError):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin2, comment="ok"
        )
    assert actions(db, definition.id, people.lab)[-1] == (
        "rejected",
        1,
        people.admin,
        "no timeout",
    )


def test_approving_a_newer_version_supersedes_older_pending_ones(db, people) -> None:
    definition = create(db, people)
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, source_code=EDITED_CODE
    )
    db.approve_definition_version(
        definition.id, 2, lab_id=people.lab, reviewer_id=people.admin, comment="ok"
    )
    statuses = [v.status for v in db.get_definition_versions(definition.id, lab_id=people.lab)]
    assert statuses == ["superseded", "approved"]
    with pytest.raises(ReviewStateError):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="old"
        )


def test_code_changed_behind_the_applications_back_is_not_approved(db, people) -> None:
    definition = create(db, people)
    with db.session() as session:
        session.execute(
            update(InstrumentDefinitionVersion)
            .where(InstrumentDefinitionVersion.definition_id == definition.id)
            .values(source_code=SEED_LOCKIN_CODE + "\nimport os\n")
        )
    with pytest.raises(CodeIntegrityError):
        db.approve_definition_version(
            definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="ok"
        )


def test_the_whole_history_is_in_the_audit_trail_in_order(db, people) -> None:
    definition = create(db, people, change_summary="new")
    db.reject_definition_version(
        definition.id, 1, lab_id=people.lab, reviewer_id=people.admin, comment="no"
    )
    db.update_instrument_definition(
        definition.id,
        lab_id=people.lab,
        author_id=people.author,
        source_code=EDITED_CODE,
        change_summary="fixed",
    )
    db.approve_definition_version(
        definition.id, 2, lab_id=people.lab, reviewer_id=people.admin2, comment="fine"
    )
    db.rollback_instrument_definition(
        definition.id, 1, lab_id=people.lab, author_id=people.author, change_summary="undo"
    )
    assert actions(db, definition.id, people.lab) == [
        ("created", 1, people.author, "new"),
        ("rejected", 1, people.admin, "no"),
        ("edited", 2, people.author, "fixed"),
        ("approved", 2, people.admin2, "fine"),
        ("rolled_back", 3, people.author, "undo"),
    ]
    times = [row.created_at for row in db.get_definition_audit(definition.id, lab_id=people.lab)]
    assert times == sorted(times)
    assert all(moment.tzinfo is not None for moment in times)


# -- the library: validation in front of storage ------------------------------------------


def test_the_library_stores_the_seed_definition_as_posted(db, people) -> None:
    library = DefinitionLibrary(db)
    posted = {k: v for k, v in SEED_LOCKIN.items() if k != "base_class"}
    definition = library.create(
        people.lab,
        posted.pop("name"),
        posted.pop("instrument_type"),
        posted.pop("source_code"),
        author_id=people.author,
        **posted,
    )
    assert definition.base_class == "VisaBaseMeasurementInstrument"  # read from the code
    assert library.validate_stored(definition.id, lab_id=people.lab).ok


def test_the_library_refuses_invalid_code_and_fields_with_the_report(db, people) -> None:
    library = DefinitionLibrary(db)
    bad = SEED_LOCKIN_CODE.replace("class MyLockIn", "import os\nclass MyLockIn")
    with pytest.raises(InvalidDefinitionError, match=r'import of "os".*\(line 2\)') as raised:
        library.create(people.lab, "Bad", "measurement", bad, author_id=people.author)
    assert [p.line for p in raised.value.report.problems] == [2]
    assert db.get_instrument_definitions(people.lab) == []

    good = library.create(
        people.lab, "Good", "measurement", SEED_LOCKIN_CODE, author_id=people.author, **FIELDS
    )
    with pytest.raises(InvalidDefinitionError):
        library.update(good.id, lab_id=people.lab, author_id=people.author, source_code=bad)
    with pytest.raises(InvalidDefinitionError, match="4 data columns but 3 units"):
        library.update(
            good.id, lab_id=people.lab, author_id=people.author, data_units=["V", "V", "V"]
        )
    assert db.get_instrument_definition(good.id, lab_id=people.lab).version == 1
    edited = library.update(
        good.id, lab_id=people.lab, author_id=people.author, source_code=EDITED_CODE
    )
    assert edited.version == 2


# -- a version's own test ------------------------------------------------------------------

SIM_DEVICE = "spec: '1.1'\ndevices: {}\nresources: {}\n"
TEST_CODE = "def test(instrument):\n    assert instrument.name\n"


def test_a_test_and_device_are_part_of_the_version_and_roll_back_with_it(db, people) -> None:
    definition = create(db, people, test_code=TEST_CODE, sim_device=SIM_DEVICE)
    first = db.get_definition_version(definition.id, 1, lab_id=people.lab)
    assert (first.test_code, first.sim_device) == (TEST_CODE, SIM_DEVICE)

    # a new test alone is a new version for review; the code is kept
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, test_code="def test(i): pass\n"
    )
    second = db.get_definition_version(definition.id, 2, lab_id=people.lab)
    assert (second.source_code, second.test_code, second.sim_device) == (
        SEED_LOCKIN_CODE,
        "def test(i): pass\n",
        SIM_DEVICE,
    )
    # the same content again is no change; an empty string removes the device
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, test_code="def test(i): pass\n"
    )
    assert db.get_instrument_definition(definition.id, lab_id=people.lab).version == 2
    db.update_instrument_definition(
        definition.id, lab_id=people.lab, author_id=people.author, sim_device=""
    )
    assert db.get_definition_version(definition.id, 3, lab_id=people.lab).sim_device is None

    db.rollback_instrument_definition(definition.id, 1, lab_id=people.lab, author_id=people.author)
    restored = db.get_definition_version(definition.id, 4, lab_id=people.lab)
    assert (restored.test_code, restored.sim_device) == (TEST_CODE, SIM_DEVICE)


def test_a_test_result_is_kept_with_its_version_by_the_owning_lab_only(db, people) -> None:
    definition = create(db, people, test_code=TEST_CODE)
    result = {"passed": False, "message": "line 2: AssertionError", "seconds": 0.25}
    row = db.record_definition_test(definition.id, 1, result, lab_id=people.lab)
    assert row.test_result == result
    assert row.tested_at is not None
    stored = db.get_definition_version(definition.id, 1, lab_id=people.lab)
    assert stored.test_result == result

    with pytest.raises(NotFoundError):
        db.record_definition_test(definition.id, 1, {"passed": True}, lab_id=people.other_lab)
    with pytest.raises(NotFoundError):  # without a lab, only builtin definitions
        db.record_definition_test(definition.id, 1, {"passed": True}, lab_id=None)
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        db.record_definition_test(definition.id, 1, {"passed": float("nan")}, lab_id=people.lab)
    assert db.get_definition_version(definition.id, 1, lab_id=people.lab).test_result == result
