"""Projects and samples pages: search, create, edit, pictures, and who may do it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from database_builders import png_claiming
from pybirch.database.models import Role
from pybirch.sample_images import decode_png
from web_support import client_for, csrf_token


@pytest.fixture
def lab(db):
    return db.create_lab("Sample Lab")


def png(width: int = 8, height: int = 6) -> bytes:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :, 0] = np.arange(width, dtype=np.uint8)[None, :] * 30
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_member_creates_a_project_and_finds_it(db, lab):
    client = client_for(db, lab, "mia", Role.MEMBER)
    token = csrf_token(client, f"/projects/?lab={lab.id}")
    response = client.post(
        f"/labs/{lab.id}/projects",
        data={"name": "Twisted bilayers", "code": "TB", "csrf_token": token},
    )
    assert response.status_code == 302
    assert db.get_project_by_name("Twisted bilayers", lab.id).created_by_id is not None
    page = client.get(f"/projects/?lab={lab.id}&q=twisted").get_data(as_text=True)
    assert "Twisted bilayers" in page
    again = client.post(
        f"/labs/{lab.id}/projects", data={"name": "Twisted bilayers", "csrf_token": token}
    )
    assert "already" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_member_creates_and_edits_a_sample_with_a_picture(db, lab):
    project = db.create_project("Graphene", lab.id)
    client = client_for(db, lab, "mia", Role.MEMBER)
    token = csrf_token(client, f"/labs/{lab.id}/samples/new")
    response = client.post(
        f"/labs/{lab.id}/samples/new",
        data={
            "sample_id": "G-042",
            "material": "graphene on hBN",
            "project_id": str(project.id),
            "tags": "bilayer, 1.1 deg",
            "csrf_token": token,
            "image": (io.BytesIO(png()), "photo.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    stored = db.get_sample_by_id("G-042", lab.id)
    assert stored.project_id == project.id
    assert stored.additional_tags == ["bilayer", "1.1 deg"]
    picture = client.get(f"/samples/{stored.id}/image.png")
    assert picture.mimetype == "image/png"
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(picture.data))), np.asarray(Image.open(io.BytesIO(png())))
    )
    assert np.array_equal(decode_png(stored.image_png, "G-042")[0, :, 0], np.arange(8) * 30)

    page = client.get(f"/samples/{stored.id}").get_data(as_text=True)
    assert "graphene on hBN" in page
    token = csrf_token(client, f"/samples/{stored.id}/edit")
    client.post(
        f"/samples/{stored.id}/edit",
        data={
            "sample_id": "G-042",
            "material": "graphene on SiO2",
            "project_id": "0",
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )
    edited = db.get_sample(stored.id)
    assert edited.material == "graphene on SiO2"
    assert edited.project_id is None
    assert edited.image_png is not None  # no new picture keeps the old one
    assert "G-042" in client.get(f"/samples/?lab={lab.id}&q=G-04").get_data(as_text=True)


def post_sample(client, path: str, sample_id: str, picture: bytes):
    """Post the sample form of ``path`` with a picture; the page it answers with."""
    token = csrf_token(client, path)
    return client.post(
        path,
        data={"sample_id": sample_id, "csrf_token": token, "image": (io.BytesIO(picture), "x.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (b"not an image", "cannot read the image"),
        (png_claiming(13_000, 13_000), "13000 x 13000 pixels; at most 25,000,000"),
        (png_claiming(60_000, 60_000), "too many pixels"),  # a decompression bomb
    ],
)
def test_a_refused_picture_creates_no_sample_and_says_why(db, lab, picture, message):
    client = client_for(db, lab, "mia", Role.MEMBER)
    response = post_sample(client, f"/labs/{lab.id}/samples/new", "X-1", picture)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.get_sample_by_id("X-1", lab.id) is None


def test_the_pixel_limit_is_configured_and_applies_to_edits(db, lab):
    client = client_for(db, lab, "mia", Role.MEMBER)
    client.application.config["MAX_IMAGE_PIXELS"] = 47
    response = post_sample(client, f"/labs/{lab.id}/samples/new", "X-2", png(8, 6))
    assert "8 x 6 pixels; at most 47 are accepted" in response.get_data(as_text=True)
    assert db.get_sample_by_id("X-2", lab.id) is None
    client.application.config["MAX_IMAGE_PIXELS"] = 48
    post_sample(client, f"/labs/{lab.id}/samples/new", "X-2", png(8, 6))
    record = db.get_sample_by_id("X-2", lab.id)
    assert record.image_png is not None

    refused = post_sample(client, f"/samples/{record.id}/edit", "X-3", png(10, 10))
    assert "at most 48" in refused.get_data(as_text=True)
    kept = db.get_sample(record.id)
    assert (kept.sample_id, kept.image_png) == ("X-2", record.image_png)


def test_a_viewer_browses_but_cannot_create_or_edit(db, lab):
    sample = db.create_sample("V-1", lab_id=lab.id)
    client = client_for(db, lab, "vic", Role.VIEWER)
    assert "V-1" in client.get(f"/samples/{sample.id}").get_data(as_text=True)
    assert ">Edit<" not in client.get(f"/samples/{sample.id}").get_data(as_text=True)
    assert client.get(f"/samples/{sample.id}/edit").status_code == 403
    assert client.get(f"/labs/{lab.id}/samples/new").status_code == 403
    token = csrf_token(client, "/")
    assert (
        client.post(f"/labs/{lab.id}/projects", data={"name": "x", "csrf_token": token}).status_code
        == 403
    )


def test_another_labs_samples_are_not_found(db, lab):
    other = db.create_sample("SECRET", lab_id=db.create_lab("Other").id)
    client = client_for(db, lab, "mia", Role.MEMBER)
    for path in (
        f"/samples/{other.id}",
        f"/samples/{other.id}/edit",
        f"/samples/{other.id}/image.png",
    ):
        assert client.get(path).status_code == 404, path


def test_the_instruments_page_lists_the_labs_instruments_by_type(db, lab):
    lockin = db.create_instrument("SR830", "measurement", lab_id=lab.id, manufacturer="SRS")
    db.update_instrument_status(lockin.id, "connected", current_settings={"time_constant": 0.1})
    db.create_instrument("Stage X", "movement", lab_id=lab.id)
    db.create_instrument("Hidden", "movement", lab_id=db.create_lab("Other").id)
    client = client_for(db, lab, "vic", Role.VIEWER)
    page = client.get(f"/instruments/?lab={lab.id}").get_data(as_text=True)
    assert "SR830" in page
    assert "connected" in page
    assert "time_constant" in page
    assert "Hidden" not in page
    movements = client.get(f"/instruments/?lab={lab.id}&type=movement").get_data(as_text=True)
    assert "Stage X" in movements
    assert "SR830" not in movements


def test_the_pixel_limit_comes_from_the_environment(db, monkeypatch):
    from pybirch.web.app import create_app
    from pybirch.web.config import WebConfig

    monkeypatch.setenv("SECRET_KEY", "not kept anywhere")
    monkeypatch.setenv("MAX_IMAGE_PIXELS", "47")
    config = WebConfig.from_environment()
    assert config.max_image_pixels == 47
    assert create_app(db, config).config["MAX_IMAGE_PIXELS"] == 47
