"""DatabaseService on SQLite and PostgreSQL: CRUD, search, PyBirch objects and bad input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from database_builders import count_rows, line_scan, pybirch_sample, rgb_image
from pybirch.database import DatabaseError, DatabaseService, DuplicateError, NotFoundError
from pybirch.database.models import Instrument, LabMembership, Queue, Role, Sample, Scan
from pybirch.database.services.queues import QueueRunningError
from pybirch.database_integration.managers.equipment_manager import describe_instrument
from pybirch.database_integration.serializers import (
    create_queue_from_pybirch,
    create_sample_from_pybirch,
    create_scan_from_pybirch,
    sample_columns,
    to_pybirch_sample,
    update_sample_from_pybirch,
)
from pybirch.instruments.simulated import FakeLockin, FakeSpectrometer, FakeStage
from pybirch.queue import Queue as PyBirchQueue

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def assert_recent(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.tzinfo is not None
    assert datetime.now(UTC) - timedelta(minutes=1) <= moment <= datetime.now(UTC)


# -- labs --------------------------------------------------------------------------------------


def test_lab_crud(db: DatabaseService) -> None:
    lab = db.create_lab("Quantum Optics", code="QO", description="single photons")

    assert db.get_lab(lab.id).name == "Quantum Optics"
    assert db.get_lab_by_name("Quantum Optics").id == lab.id
    assert db.get_lab_by_name("Nobody") is None

    db.update_lab(lab.id, description="entangled photons", extra_data={"room": "B12"})
    changed = db.get_lab(lab.id)
    assert (changed.description, changed.extra_data) == ("entangled photons", {"room": "B12"})

    db.delete_lab(lab.id)
    with pytest.raises(NotFoundError):
        db.get_lab(lab.id)


def test_duplicate_lab_name_is_refused_and_nothing_is_stored(db: DatabaseService) -> None:
    db.create_lab("Spintronics")
    with pytest.raises(DuplicateError):
        db.create_lab("Spintronics")
    assert db.search_labs().total == 1
    db.create_lab("Spintronics 2")  # the failed insert left the service usable


def test_a_lab_with_samples_cannot_be_deleted(db: DatabaseService) -> None:
    lab = db.create_lab("Busy lab")
    sample = db.create_sample("S-1", lab_id=lab.id)
    with pytest.raises(DatabaseError):
        db.delete_lab(lab.id)
    assert db.get_lab(lab.id).name == "Busy lab"
    assert db.get_sample(sample.id).lab_id == lab.id


def test_a_lab_with_projects_cannot_be_deleted(db: DatabaseService) -> None:
    lab = db.create_lab("Busy lab")
    project = db.create_project("Ongoing", lab_id=lab.id)
    with pytest.raises(DatabaseError):
        db.delete_lab(lab.id)  # today: deleted, and the project silently leaves the lab
    assert db.get_project(project.id).lab_id == lab.id
    assert db.get_lab(lab.id).name == "Busy lab"


def test_search_labs_by_text_with_paging(db: DatabaseService) -> None:
    for i in range(7):
        db.create_lab(f"Optics {i}", description="lasers")
    db.create_lab("Cryogenics", code="CRYO")
    db.create_lab("100% Vacuum")
    db.create_lab("1000 Vacuum")

    optics = db.search_labs("optics", per_page=3)  # case-insensitive
    assert (optics.total, optics.pages, optics.has_next) == (7, 3, True)
    assert [lab.name for lab in optics.items] == ["Optics 0", "Optics 1", "Optics 2"]
    last = db.search_labs("optics", page=3, per_page=3)
    assert [lab.name for lab in last.items] == ["Optics 6"]
    assert not last.has_next

    assert [lab.name for lab in db.search_labs("cryo").items] == ["Cryogenics"]  # by code
    assert db.search_labs("LASERS").total == 7  # by description
    assert [lab.name for lab in db.search_labs("100%").items] == ["100% Vacuum"]  # % literal
    assert db.search_labs().total == 10
    assert db.search_labs("no such lab").items == []


def test_search_refuses_bad_paging(db: DatabaseService) -> None:
    with pytest.raises(ValueError, match="page must be"):
        db.search_labs(page=0)
    with pytest.raises(ValueError, match="per_page must be"):
        db.search_labs(per_page=0)
    with pytest.raises(ValueError, match="per_page must be"):
        db.search_labs(per_page=100_000)


# -- users and memberships ---------------------------------------------------------------------


def test_user_crud_and_search(db: DatabaseService) -> None:
    ada = db.create_user("ada", email="ada@example.org", display_name="Ada Lovelace")
    db.create_user("grace", email="grace@example.org")

    assert db.get_user(ada.id).display_name == "Ada Lovelace"
    assert db.get_user_by_username("ada").id == ada.id
    assert db.get_user_by_username("nobody") is None
    assert db.get_or_create_user("ada").id == ada.id
    operator = db.get_or_create_user("night-shift")
    assert operator.password_hash is None
    assert operator.is_active
    assert db.search_users().total == 3

    assert [u.username for u in db.search_users("example.org").items] == ["ada", "grace"]
    assert [u.username for u in db.search_users("lovelace").items] == ["ada"]
    db.update_user(ada.id, is_active=False)
    assert db.get_user(ada.id).is_active is False

    with pytest.raises(DuplicateError):
        db.create_user("ada")


@pytest.mark.parametrize("role", list(Role))
def test_membership_role_is_stored_and_read_back(db: DatabaseService, role: Role) -> None:
    lab = db.create_lab("Lab")
    user = db.create_user("user")

    db.set_membership(lab.id, user.id, role.value)  # the string form is accepted too

    stored = db.get_role(lab.id, user.id)
    assert stored is role
    assert isinstance(stored, Role)
    assert [(u.username, r) for u, r, _ in db.list_memberships(lab.id)] == [("user", role)]


def test_memberships_change_and_go(db: DatabaseService) -> None:
    physics, chemistry = db.create_lab("Physics"), db.create_lab("Chemistry")
    ada, bob = db.create_user("ada"), db.create_user("bob")
    db.set_membership(physics.id, ada.id, Role.OWNER)
    db.set_membership(physics.id, bob.id, Role.VIEWER)
    db.set_membership(chemistry.id, ada.id, Role.MEMBER)

    db.set_membership(physics.id, bob.id, Role.ADMIN)  # promoted: changed, not duplicated

    assert [(u.username, r) for u, r, _ in db.list_memberships(physics.id)] == [
        ("ada", Role.OWNER),
        ("bob", Role.ADMIN),
    ]
    assert [(lab.name, r) for lab, r in db.labs_of_user(ada.id)] == [
        ("Chemistry", Role.MEMBER),
        ("Physics", Role.OWNER),
    ]
    assert count_rows(db, LabMembership) == 3

    assert db.remove_membership(physics.id, bob.id) is True
    assert db.remove_membership(physics.id, bob.id) is False
    assert db.get_role(physics.id, bob.id) is None
    assert db.labs_of_user(bob.id) == []

    db.delete_lab(chemistry.id)  # memberships go with their lab
    assert [lab.name for lab, _ in db.labs_of_user(ada.id)] == ["Physics"]


def test_membership_needs_a_real_lab_user_and_role(db: DatabaseService) -> None:
    lab, user = db.create_lab("Lab"), db.create_user("ada")
    with pytest.raises(NotFoundError):
        db.set_membership(999_999, user.id, Role.MEMBER)
    with pytest.raises(NotFoundError):
        db.set_membership(lab.id, 999_999, Role.MEMBER)
    with pytest.raises(ValueError, match="emperor"):
        db.set_membership(lab.id, user.id, "emperor")
    assert db.list_memberships(lab.id) == []


_RANK = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]


@pytest.mark.parametrize(("held", "needed"), list(itertools.product(Role, Role)))
def test_role_allows_what_it_or_a_weaker_role_may_do(held: Role, needed: Role) -> None:
    assert held.allows(needed) is (_RANK.index(held) >= _RANK.index(needed))


def test_role_order_spelled_out() -> None:
    assert Role.OWNER.allows(Role.ADMIN)
    assert Role.ADMIN.allows(Role.MEMBER)
    assert Role.MEMBER.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.MEMBER)
    assert not Role.MEMBER.allows(Role.ADMIN)
    assert not Role.ADMIN.allows(Role.OWNER)


# -- projects ----------------------------------------------------------------------------------


def test_project_crud_and_lookup(db: DatabaseService) -> None:
    lab, other = db.create_lab("Lab"), db.create_lab("Other")
    project = db.create_project("Graphene", lab_id=lab.id, code="GR")
    twin = db.create_project("Graphene", lab_id=other.id)  # same name, other lab: allowed

    assert db.get_project(project.id).code == "GR"
    assert db.get_project_by_name("Graphene", lab.id).id == project.id
    assert db.get_project_by_name("Graphene", other.id).id == twin.id
    assert db.get_project_by_name("Silicon", lab.id) is None
    assert db.get_or_create_project("Graphene", lab.id).id == project.id
    created = db.get_or_create_project("Silicon", lab.id)
    assert created.lab_id == lab.id
    assert created.status == "active"

    with pytest.raises(DuplicateError):
        db.create_project("Graphene", lab_id=lab.id)

    db.update_project(project.id, status="archived")
    assert db.get_project(project.id).status == "archived"
    db.delete_project(created.id)
    with pytest.raises(NotFoundError):
        db.get_project(created.id)


def test_search_projects_filters_and_pages(db: DatabaseService) -> None:
    lab, other = db.create_lab("Lab"), db.create_lab("Other")
    for i in range(12):
        db.create_project(
            f"P{i:02d}",
            lab_id=lab.id,
            status="archived" if i % 3 == 0 else "active",
            description="thin films" if i % 2 else "bulk",
        )
    db.create_project("P99", lab_id=other.id)

    in_lab = db.search_projects(lab_id=lab.id, per_page=5, page=2)
    assert in_lab.total == 12
    assert [p.name for p in in_lab.items] == ["P05", "P06", "P07", "P08", "P09"]
    archived = db.search_projects(lab_id=lab.id, status="archived")
    assert [p.name for p in archived.items] == ["P00", "P03", "P06", "P09"]
    films = db.search_projects("thin", lab_id=lab.id, status="active")
    assert [p.name for p in films.items] == ["P01", "P05", "P07", "P11"]
    assert db.search_projects().total == 13


def test_deleting_a_project_keeps_its_samples(db: DatabaseService) -> None:
    project = db.create_project("Short-lived")
    sample = db.create_sample("S-1", project_id=project.id)
    db.delete_project(project.id)
    assert db.get_sample(sample.id).project_id is None


# -- samples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        rgb_image(),
        None,
        np.arange(35, dtype=np.uint8).reshape(5, 7),  # grey
        np.random.default_rng(3).integers(0, 256, (4, 3, 4), dtype=np.uint8),  # RGBA
    ],
    ids=["rgb", "no-image", "grey", "rgba"],
)
def test_sample_round_trips_with_its_image(db: DatabaseService, image: np.ndarray | None) -> None:
    original = pybirch_sample("S-042", "WSe2", image=image)
    lab = db.create_lab("Lab")

    stored = create_sample_from_pybirch(db, original, lab_id=lab.id, description="on SiO2")

    found = db.get_sample_by_id("S-042", lab.id)
    assert found is not None
    assert found.id == stored.id
    assert (found.sample_id, found.material, found.additional_tags, found.description) == (
        "S-042",
        "WSe2",
        ["flake", "exfoliated"],
        "on SiO2",
    )
    back = to_pybirch_sample(found)
    assert back == original  # ID, material, tags and every pixel
    if image is not None:
        assert back.image.dtype == np.uint8
        assert back.image.shape == image.shape
        np.testing.assert_array_equal(to_pybirch_sample(db.get_sample(stored.id)).image, image)
    else:
        assert back.image is None


def test_sample_columns_convert_without_a_database() -> None:
    original = pybirch_sample(image=rgb_image(seed=7))

    row = Sample(**sample_columns(original), lab_id=3, description="x")

    assert (row.sample_id, row.material, row.lab_id, row.description) == (
        "S-001",
        "MoS2",
        3,
        "x",
    )
    assert row.image_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert to_pybirch_sample(row) == original


def test_get_sample_by_id_respects_the_lab(db: DatabaseService) -> None:
    lab, other = db.create_lab("Lab"), db.create_lab("Other")
    mine = db.create_sample("S-7", lab_id=lab.id, material="Si")
    theirs = db.create_sample("S-7", lab_id=other.id, material="Ge")

    assert db.get_sample_by_id("S-7", lab.id).id == mine.id
    assert db.get_sample_by_id("S-7", other.id).id == theirs.id
    assert db.get_sample_by_id("S-8", lab.id) is None
    with pytest.raises(DuplicateError):
        db.create_sample("S-7", lab_id=lab.id)
    with pytest.raises(NotFoundError):
        db.get_sample(999_999)


def test_update_sample_from_pybirch_replaces_the_image(db: DatabaseService) -> None:
    stored = create_sample_from_pybirch(db, pybirch_sample(image=rgb_image(seed=1)))
    changed = pybirch_sample(material="hBN", image=rgb_image(8, 8, seed=2))

    update_sample_from_pybirch(db, stored.id, changed)

    assert to_pybirch_sample(db.get_sample(stored.id)) == changed


def test_search_samples_filters_and_pages(db: DatabaseService) -> None:
    project = db.create_project("Graphene")
    for i in range(25):
        db.create_sample(
            f"G-{i:02d}",
            material="graphene" if i % 5 else "graphite",
            project_id=project.id if i < 20 else None,
            created_at=T0 + timedelta(minutes=i),
        )

    newest = db.search_samples(per_page=10)
    assert newest.total == 25
    assert [s.sample_id for s in newest.items][:3] == ["G-24", "G-23", "G-22"]
    graphite = db.search_samples(material="graphite")
    assert [s.sample_id for s in graphite.items] == ["G-20", "G-15", "G-10", "G-05", "G-00"]
    in_project = db.search_samples("graph", project_id=project.id, page=2, per_page=15)
    assert in_project.total == 20
    assert [s.sample_id for s in in_project.items] == [f"G-{i:02d}" for i in range(4, -1, -1)]


# -- scans -------------------------------------------------------------------------------------


def test_create_scan_from_a_pybirch_scan(db: DatabaseService) -> None:
    lab = db.create_lab("Lab")
    project = db.create_project("Graphene", lab_id=lab.id)
    sample = pybirch_sample("S-9", image=rgb_image())
    stored_sample = create_sample_from_pybirch(db, sample, lab_id=lab.id)
    scan = line_scan(
        "Raman line",
        "Graphene",
        points=21,
        sample=sample,
        scan_type="1D",
        job_type="Raman",
        additional_tags=["calibration"],
        user_fields={"laser_nm": 532},
    )

    record = create_scan_from_pybirch(db, scan, lab_id=lab.id, operator="ada")

    stored = db.get_scan(record.id)
    assert (stored.scan_name, stored.project_name, stored.scan_type, stored.job_type) == (
        "Raman line",
        "Graphene",
        "1D",
        "Raman",
    )
    assert stored.status == "queued"
    assert stored.operator == "ada"
    assert stored.total_points == 21 == scan.total_points
    assert stored.points_done == 0
    assert stored.progress == 0.0
    assert stored.project_id == project.id  # found by the settings' project name
    assert stored.sample_id == stored_sample.id  # found by the sample's ID
    assert stored.lab_id == lab.id
    assert stored.queue_id is None
    assert stored.scan_tree_data == scan.settings.scan_tree.to_dict()
    assert set(stored.scan_tree_data["instruments"]) == {"X stage", "Lock-in"}
    assert stored.extra_data["user_fields"] == {"laser_nm": 532}
    assert stored.extra_data["additional_tags"] == ["calibration"]
    assert len(stored.scan_id) == 32
    assert db.get_scan(stored.scan_id).id == stored.id
    assert stored.started_at is None
    assert stored.completed_at is None


def test_scan_of_an_unknown_sample_or_project_has_none(db: DatabaseService) -> None:
    record = create_scan_from_pybirch(db, line_scan(sample=pybirch_sample("not stored")))
    assert (record.sample_id, record.project_id) == (None, None)
    assert db.get_scan(record.id).project_name == "Graphene"


def test_update_scan_status_fills_start_and_end_times(db: DatabaseService) -> None:
    record = create_scan_from_pybirch(db, line_scan())

    running = db.update_scan_status(record.id, "running")
    assert running.status == "running"
    assert_recent(running.started_at)
    assert running.completed_at is None

    paused = db.update_scan_status(record.id, "paused", points_done=4)
    assert paused.started_at == running.started_at  # not moved by later statuses
    db.update_scan_status(record.id, "running")

    done = db.update_scan_status(record.id, "completed", points_done=11)
    stored = db.get_scan(record.id)
    assert stored.status == "completed"
    assert stored.points_done == 11
    assert stored.progress == 1.0
    assert stored.started_at == running.started_at
    assert_recent(stored.completed_at)
    assert stored.completed_at == done.completed_at >= stored.started_at


def test_failed_scan_keeps_its_error(db: DatabaseService) -> None:
    record = db.create_scan("doomed")
    explicit_end = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    db.update_scan_status(
        record.id,
        "failed",
        error_message="lock-in lost its signal",
        traceback="Traceback ...",
        completed_at=explicit_end,
    )
    stored = db.get_scan(record.id)
    assert (stored.status, stored.error_message, stored.traceback) == (
        "failed",
        "lock-in lost its signal",
        "Traceback ...",
    )
    assert stored.completed_at == explicit_end
    assert stored.started_at is None  # it never ran


def test_get_active_scans_lists_running_and_paused_oldest_first(db: DatabaseService) -> None:
    lab, other = db.create_lab("Lab"), db.create_lab("Other")
    statuses = ["queued", "running", "paused", "completed", "failed", "aborted", "running"]
    records = [db.create_scan(f"scan {i}", lab_id=lab.id) for i in range(len(statuses))]
    for record, status in zip(records, statuses, strict=True):
        if status != "queued":
            db.update_scan_status(record.id, status)
    elsewhere = db.create_scan("elsewhere", lab_id=other.id)
    db.update_scan_status(elsewhere.id, "paused")

    active = db.get_active_scans(lab.id)
    assert [s.scan_name for s in active] == ["scan 1", "scan 2", "scan 6"]
    assert {s.status for s in active} == {"running", "paused"}
    assert [s.scan_name for s in db.get_active_scans()] == [
        "scan 1",
        "scan 2",
        "scan 6",
        "elsewhere",
    ]


@pytest.fixture
def many_scans(db: DatabaseService) -> dict[str, object]:
    """120 scans a minute apart over two projects, with a sample on every third one."""
    lab = db.create_lab("Lab")
    projects = [db.create_project(name, lab_id=lab.id) for name in ("Graphene", "Silicon")]
    sample = db.create_sample("S-1", lab_id=lab.id)
    statuses = ["queued", "running", "completed", "failed"]
    scans = []
    for i in range(120):
        scans.append(
            db.create_scan(
                f"Raman map {i:03d}" if i % 5 == 0 else f"IV sweep {i:03d}",
                lab_id=lab.id,
                project_id=projects[i % 2].id,
                sample_id=sample.id if i % 3 == 0 else None,
                status=statuses[i % 4],
                scan_type="2D" if i % 5 == 0 else "1D",
                created_at=T0 + timedelta(minutes=i),
            )
        )
    return {"lab": lab, "projects": projects, "sample": sample, "scans": scans}


def newest_first(scans: list[Scan]) -> list[int]:
    return [scan.id for scan in sorted(scans, key=lambda s: s.created_at, reverse=True)]


def test_search_scans_pages_of_50_out_of_120(db: DatabaseService, many_scans: dict) -> None:
    pages = [db.search_scans(lab_id=many_scans["lab"].id, page=n) for n in (1, 2, 3)]

    assert [len(page.items) for page in pages] == [50, 50, 20]
    assert {page.total for page in pages} == {120}
    assert pages[0].pages == 3
    assert pages[0].has_next
    assert not pages[2].has_next
    seen = [scan.id for page in pages for scan in page.items]
    assert seen == newest_first(many_scans["scans"])  # each scan once, newest first
    assert db.search_scans(lab_id=many_scans["lab"].id, page=4).items == []


def test_search_scans_filters(db: DatabaseService, many_scans: dict) -> None:
    scans: list[Scan] = many_scans["scans"]
    silicon = many_scans["projects"][1]

    def ids(**filters: object) -> list[int]:
        page = db.search_scans(per_page=500, **filters)
        assert page.total == len(page.items)
        return [scan.id for scan in page.items]

    assert ids(status="failed") == newest_first([s for s in scans if s.status == "failed"])
    assert ids(status=["queued", "running"]) == newest_first(
        [s for s in scans if s.status in ("queued", "running")]
    )
    assert ids(project_id=silicon.id) == newest_first(
        [s for s in scans if s.project_id == silicon.id]
    )
    assert ids(sample_id=many_scans["sample"].id) == newest_first(scans[::3])
    assert ids(text="raman") == newest_first(scans[::5])
    assert ids(text="sweep 11") == newest_first(
        [s for s in scans[110:120] if s.scan_name.startswith("IV sweep")]
    )
    since = T0 + timedelta(minutes=100)
    assert ids(since=since) == newest_first(scans[100:])
    assert ids(since=since, until=since + timedelta(minutes=5)) == newest_first(scans[100:105])
    graphene = many_scans["projects"][0]
    combined = [
        s
        for s in scans[::5]
        if s.status == "completed" and s.project_id == graphene.id and s.created_at >= since
    ]
    assert combined  # the filters together still select something
    assert ids(
        text="Raman", status="completed", project_id=graphene.id, since=since
    ) == newest_first(combined)
    assert ids(scan_type="2D", status="queued") == newest_first(
        [s for s in scans[::5] if s.status == "queued"]
    )


def test_scan_logs(db: DatabaseService) -> None:
    record = db.create_scan("logged")
    first = db.add_scan_log(record.id, "INFO", "started")
    db.add_scan_log(record.id, "WARNING", "overload")
    db.add_scan_log(record.id, "INFO", "done")

    assert [log.message for log in db.get_scan_logs(record.id)] == ["started", "overload", "done"]
    assert [log.message for log in db.get_scan_logs(record.id, after_id=first.id, limit=1)] == [
        "overload"
    ]


# -- queues ------------------------------------------------------------------------------------


def test_create_queue_from_pybirch_reuses_the_record_of_its_qid(db: DatabaseService) -> None:
    first = create_queue_from_pybirch(db, PyBirchQueue("night run", 3, "parallel"))
    assert (first.queue_id, first.name, first.status) == ("night run", "night run", "idle")
    assert (first.execution_mode, first.max_parallel_scans) == ("parallel", 3)

    again = create_queue_from_pybirch(db, PyBirchQueue("night run"), operator="ada")

    assert again.id == first.id
    stored = db.get_queue("night run")
    assert (stored.execution_mode, stored.max_parallel_scans, stored.operator) == (
        "serial",
        1,
        "ada",
    )
    assert count_rows(db, Queue) == 1
    assert create_queue_from_pybirch(db, PyBirchQueue("day run")).id != first.id
    assert db.search_queues().total == 2


def test_create_or_reuse_queue_takes_plain_columns(db: DatabaseService) -> None:
    first = db.create_or_reuse_queue("Q-1", execution_mode="parallel", operator="ada")
    assert (first.queue_id, first.name, first.status, first.execution_mode) == (
        "Q-1",
        "Q-1",
        "idle",
        "parallel",
    )
    db.update_queue_status(first.id, "running")
    with pytest.raises(QueueRunningError, match=r"'Q-1'.*running"):
        db.create_or_reuse_queue("Q-1")

    db.update_queue_status(first.id, "completed")
    again = db.create_or_reuse_queue("Q-1", operator="grace")

    assert (again.id, again.operator) == (first.id, "grace")


def test_get_queue_by_id_or_qid(db: DatabaseService) -> None:
    queue = db.create_queue("Q-7", name="Cooldown", operator="grace")
    assert db.get_queue(queue.id).queue_id == "Q-7"
    assert db.get_queue("Q-7").id == queue.id
    with pytest.raises(NotFoundError):
        db.get_queue("Q-8")
    with pytest.raises(NotFoundError):
        db.get_queue(999_999)
    with pytest.raises(DuplicateError):
        db.create_queue("Q-7")


def test_get_queue_with_scans(db: DatabaseService) -> None:
    queue = create_queue_from_pybirch(db, PyBirchQueue("Q"))
    names = ["first", "second", "third"]
    for name in names:
        create_scan_from_pybirch(db, line_scan(name), queue_id=queue.id)
    create_scan_from_pybirch(db, line_scan("not queued"))

    loaded = db.get_queue_with_scans("Q")

    assert [scan.scan_name for scan in loaded.scans] == names  # readable after the session
    assert {scan.queue_id for scan in loaded.scans} == {queue.id}
    assert db.search_scans(queue_id=queue.id).total == 3


def test_queue_logs(db: DatabaseService) -> None:
    queue = db.create_queue("Q")
    other = db.create_queue("other")
    first = db.add_queue_log(queue.id, "INFO", "queue started")
    db.add_queue_log(queue.id, "ERROR", "scan failed", scan_id="abc123")
    db.add_queue_log(other.id, "INFO", "not mine")
    db.add_queue_logs(
        queue.id,
        [
            {"level": "INFO", "message": "next scan"},
            {"level": "ERROR", "message": "again", "timestamp": T0},
        ],
    )

    logs = db.get_queue_logs(queue.id)
    assert [log.message for log in logs] == [
        "queue started",
        "scan failed",
        "next scan",
        "again",
    ]
    assert logs[1].scan_id == "abc123"
    assert logs[3].timestamp == T0
    assert_recent(logs[0].timestamp)
    errors = db.get_queue_logs(queue.id, level="ERROR")
    assert [log.message for log in errors] == ["scan failed", "again"]
    later = db.get_queue_logs(queue.id, after_id=first.id, limit=2)
    assert [log.message for log in later] == ["scan failed", "next scan"]


def test_mark_interrupted_marks_the_queue_and_its_live_scans(db: DatabaseService) -> None:
    queue = create_queue_from_pybirch(db, PyBirchQueue("crashed"))
    db.update_queue_status(queue.id, "running")
    by_status = {}
    for status in ("running", "paused", "queued", "completed"):
        record = db.create_scan(f"{status} scan", queue_id=queue.id)
        if status != "queued":
            db.update_scan_status(record.id, status)
        by_status[status] = record.id
    unrelated = db.create_scan("running elsewhere")
    db.update_scan_status(unrelated.id, "running")

    marked = db.mark_interrupted(queue.id, reason="process died")

    assert sorted(scan.id for scan in marked) == sorted([by_status["running"], by_status["paused"]])
    for status in ("running", "paused"):
        scan = db.get_scan(by_status[status])
        assert (scan.status, scan.error_message) == ("interrupted", "process died")
        assert_recent(scan.completed_at)
    assert db.get_scan(by_status["queued"]).status == "queued"  # can still run later
    assert db.get_scan(by_status["completed"]).status == "completed"
    assert db.get_scan(unrelated.id).status == "running"
    stored = db.get_queue(queue.id)
    assert stored.status == "interrupted"
    assert_recent(stored.completed_at)
    last = db.get_queue_logs(queue.id)[-1]
    assert last.level == "WARNING"
    assert "2 scan(s)" in last.message


def test_queue_status_is_checked(db: DatabaseService) -> None:
    queue = db.create_queue("Q")
    running = db.update_queue_status(queue.id, "running")
    assert_recent(running.started_at)
    with pytest.raises(DatabaseError, match="unknown queue status"):
        db.update_queue_status(queue.id, "sleeping")
    with pytest.raises(DatabaseError):
        db.update_queue(queue.id, status="sleeping")
    assert db.get_queue(queue.id).status == "running"


# -- instruments -------------------------------------------------------------------------------


def test_register_instrument_twice_refreshes_one_row(db: DatabaseService) -> None:
    lab = db.create_lab("Lab")
    stage = FakeStage("X stage", axis="x", speed=2.0)

    first = db.register_instrument(
        describe_instrument(stage), lab_id=lab.id, manufacturer="Sim Inc."
    )
    assert (first.name, first.instrument_type, first.lab_id) == ("X stage", "movement", lab.id)
    assert first.pybirch_class == "pybirch.instruments.simulated.stage.FakeStage"
    assert first.last_settings["speed"] == 2.0

    stage.settings = {"speed": 7.5}
    again = db.register_instrument(describe_instrument(stage), lab_id=lab.id)

    assert again.id == first.id
    assert count_rows(db, Instrument) == 1
    stored = db.get_instrument(first.id)
    assert stored.last_settings["speed"] == 7.5
    assert stored.manufacturer == "Sim Inc."  # fields not given are kept

    elsewhere = db.register_instrument(describe_instrument(stage))  # no lab: another record
    assert elsewhere.id != first.id
    assert elsewhere.lab_id is None
    assert db.register_instrument(describe_instrument(stage)).id == elsewhere.id
    assert count_rows(db, Instrument) == 2


def test_update_instrument_status_writes_history_and_last_settings(db: DatabaseService) -> None:
    lockin = db.register_instrument(describe_instrument(FakeLockin("Lock-in")))
    assert lockin.instrument_type == "measurement"
    settings = {"sensitivity": 0.01, "time_constant": 0.3, "phase": 12.0}

    connected = db.update_instrument_status(lockin.id, "connected", current_settings=settings)
    db.update_instrument_status(lockin.id, "error", error_message="GPIB timeout")

    stored = db.get_instrument(lockin.id)
    assert stored.status == "error"
    assert stored.last_settings == settings  # the error report did not wipe them
    assert_recent(stored.last_connected)
    assert stored.last_connected == connected.last_connected == connected.updated_at
    history = db.get_instrument_status_history(lockin.id)
    assert [(h.status, h.error_message) for h in history] == [
        ("error", "GPIB timeout"),
        ("connected", None),
    ]
    assert history[1].current_settings == settings
    assert history[0].current_settings is None
    assert [h.status for h in db.get_instrument_status_history(lockin.id, limit=1)] == ["error"]


def test_get_instruments_by_type(db: DatabaseService) -> None:
    for instrument in (
        FakeStage("Y stage", axis="y"),
        FakeLockin("Lock-in"),
        FakeStage("X stage"),
        FakeSpectrometer("Spectrometer"),
    ):
        db.register_instrument(describe_instrument(instrument))

    movements = db.get_instruments_by_type("movement")
    measurements = db.get_instruments_by_type("measurement")
    assert [i.name for i in movements] == ["X stage", "Y stage"]
    assert [i.name for i in measurements] == ["Lock-in", "Spectrometer"]
    with pytest.raises(DatabaseError, match="unknown instrument type"):
        db.get_instruments_by_type("toaster")
    assert db.search_instruments("stage", instrument_type="movement").total == 2


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.get_lab(999_999),
        lambda db: db.update_lab(999_999, description="x"),
        lambda db: db.delete_lab(999_999),
        lambda db: db.get_user(999_999),
        lambda db: db.get_project(999_999),
        lambda db: db.get_sample(999_999),
        lambda db: db.update_sample(999_999, material="Si"),
        lambda db: db.get_scan(999_999),
        lambda db: db.get_scan("no-such-public-id"),
        lambda db: db.update_scan_status(999_999, "running"),
        lambda db: db.get_queue_with_scans(999_999),
        lambda db: db.mark_interrupted(999_999),
        lambda db: db.get_instrument(999_999),
        lambda db: db.update_instrument_status(999_999, "connected"),
        lambda db: db.get_scans_for_sample(999_999),
    ],
)
def test_unknown_ids_raise_not_found(db: DatabaseService, call) -> None:
    with pytest.raises(NotFoundError) as raised:
        call(db)
    assert isinstance(raised.value, LookupError)  # `except KeyError/LookupError` works too
    assert raised.value.key in (999_999, "no-such-public-id")


def test_unknown_scan_status_is_refused_and_nothing_changes(db: DatabaseService) -> None:
    record = db.create_scan("s")
    with pytest.raises(DatabaseError, match="unknown scan status"):
        db.update_scan_status(record.id, "exploded")
    with pytest.raises(DatabaseError, match="unknown scan status"):
        db.update_scan(record.id, status="exploded")
    assert db.get_scan(record.id).status == "queued"


def test_unknown_fields_are_refused_and_nothing_changes(db: DatabaseService) -> None:
    lab = db.create_lab("Lab")
    record = db.create_scan("s")
    with pytest.raises(DatabaseError, match="colour"):
        db.create_lab("Painted", colour="red")
    with pytest.raises(DatabaseError, match="colour"):
        db.update_lab(lab.id, colour="red")
    with pytest.raises(DatabaseError, match="colour"):
        db.update_scan_status(record.id, "running", colour="red")
    with pytest.raises(DatabaseError):
        db.create_instrument("Oven", "toaster")

    assert db.get_lab_by_name("Painted") is None
    assert db.get_scan(record.id).status == "queued"  # the status change was rolled back
    assert db.get_scan(record.id).started_at is None
