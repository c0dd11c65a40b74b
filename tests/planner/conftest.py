"""Fixtures for planner tests: a small, realistic catalog (see catalog_fixture.py)."""

from __future__ import annotations

import pytest

from planner.catalog import Catalog
from tests.planner.catalog_fixture import fixture_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return fixture_catalog()
