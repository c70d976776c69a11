"""Every allowed base class has a template, and every template validates as it is."""

from __future__ import annotations

import pytest

from pybirch.definitions import validate_definition
from pybirch.definitions.base_classes import BASE_CLASSES
from pybirch.definitions.templates import TEMPLATES


def test_there_is_one_template_per_base_class() -> None:
    assert TEMPLATES.keys() == BASE_CLASSES.keys()


@pytest.mark.parametrize("base", sorted(TEMPLATES))
def test_a_template_validates_with_its_fields(base: str) -> None:
    template = TEMPLATES[base]
    report = validate_definition(
        template.source_code,
        instrument_type=template.instrument_type,
        data_columns=template.data_columns or None,
        data_units=template.data_units or None,
        settings_schema=template.settings_schema,
        default_settings=template.default_settings,
    )
    assert report.problems == []
    assert (report.class_name, report.base_class) == (template.name, base)
