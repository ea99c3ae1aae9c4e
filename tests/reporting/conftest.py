"""Fixtures for the reporting tests: one exported bundle (every format) and its workbook."""

from __future__ import annotations

import openpyxl
import pytest
from reporting_bundle import make_bundle

from capplan.reporting import PlanBundle, export_bundle


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[PlanBundle, dict]:
    bundle = make_bundle()
    out = export_bundle(bundle, tmp_path_factory.mktemp("export"))
    return bundle, out


@pytest.fixture(scope="module")
def workbook(exported):
    return openpyxl.load_workbook(exported[1]["xlsx"])
