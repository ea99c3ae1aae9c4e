"""A real spreadsheet program opens the workbook: LibreOffice (headless) converts it to PDF, and
the Summary sheet alone prints on one page. Skipped only where LibreOffice is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice not installed: apt-get install libreoffice-calc-nogui"
)
_PAGE = re.compile(rb"/Type\s*/Page(?!s)")
_NOISE = ("failed to launch javaldx",)  # LibreOffice's note that Java is absent: not about the file


def _convert(xlsx: Path, tmp: Path) -> tuple[Path, str]:
    """``xlsx`` -> PDF with a private LibreOffice profile; returns the PDF and what soffice printed."""
    out = tmp / "pdf"
    run = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={(tmp / 'lo-profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(xlsx),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    printed = "\n".join(
        line for line in (run.stdout + run.stderr).splitlines() if not any(n in line for n in _NOISE)
    )
    assert run.returncode == 0, printed
    return out / f"{xlsx.stem}.pdf", printed


def _only_sheet(src: Path, dst: Path, keep: str) -> Path:
    """A copy of the workbook where every sheet but ``keep`` is hidden (hidden sheets do not print)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode()
                names = re.findall(r'<sheet name="([^"]+)"', text)
                assert keep in names, names

                def hide(m: re.Match) -> str:
                    tag = re.sub(r' state="\w+"', "", m.group(0))
                    return tag if m.group(1) == keep else tag.replace(" r:id=", ' state="hidden" r:id=')

                text = re.sub(r'<sheet name="([^"]+)"[^>]*/>', hide, text)
                at = names.index(keep)
                text = text.replace("<workbookView ", f'<workbookView activeTab="{at}" firstSheet="{at}" ', 1)
                data = text.encode()
            zout.writestr(item, data)
    return dst


def test_libreoffice_converts_the_workbook_to_pdf(exported, tmp_path):
    pdf, printed = _convert(exported[1]["xlsx"], tmp_path)
    assert pdf.is_file() and pdf.stat().st_size > 0, printed
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF") and len(_PAGE.findall(body)) >= 2
    assert "error" not in printed.lower(), printed


def test_summary_prints_on_one_page(exported, tmp_path):
    xlsx = exported[1]["xlsx"]
    with zipfile.ZipFile(xlsx) as z:
        summary = z.read("xl/worksheets/sheet2.xml").decode()  # Actions is sheet1
    setup = re.search(r"<pageSetup [^>]*/>", summary).group(0)
    assert 'orientation="landscape"' in setup and "fitToHeight" not in setup and "fitToWidth" not in setup
    assert '<pageSetUpPr fitToPage="1"/>' in summary  # fit to 1 x 1 pages (xlsxwriter omits the 1s)
    pdf, printed = _convert(_only_sheet(xlsx, tmp_path / "summary_only.xlsx", "Summary"), tmp_path)
    assert "error" not in printed.lower(), printed
    assert len(_PAGE.findall(pdf.read_bytes())) == 1


def test_summary_with_long_range_charts_still_prints_on_one_page(tmp_path):
    """The long-range charts join the Summary's fans: the page still fits (LibreOffice counts)."""
    from dataclasses import replace

    from reporting_bundle import make_bundle
    from test_reporting_longrange import _long_range, _purchase

    from capplan.reporting import export_bundle

    bundle = replace(make_bundle(), purchase_plan=_purchase(), long_range=_long_range())
    xlsx = export_bundle(bundle, tmp_path / "export", formats=("xlsx",))["xlsx"]
    with zipfile.ZipFile(xlsx) as z:
        drawings = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    pdf, printed = _convert(_only_sheet(xlsx, tmp_path / "summary_only.xlsx", "Summary"), tmp_path)
    assert len(drawings) >= 4 and "error" not in printed.lower(), printed
    assert len(_PAGE.findall(pdf.read_bytes())) == 1
