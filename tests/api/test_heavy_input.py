"""Heavy and hostile uploads: refused or handled without holding up the event loop."""

from __future__ import annotations

import asyncio
import os
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from callcenter.contacts import importer
from callcenter.contacts.importer import ImportFileError, ImportTooLarge, check_xlsx
from callcenter.contacts.models import Contact
from callcenter.runtime import settle
from tests.api.test_import import count, upload

ROWS = int(os.environ.get("CC_TEST_IMPORT_ROWS", "20000"))


def xlsx_bomb(path: Path, expanded_mb: int) -> Path:
    """A valid workbook whose sheet is `expanded_mb` MB of identical rows (about 1000:1)."""
    book = Workbook()
    book.active.append(["name", "phone"])
    book.save(path)
    row = b'<row><c t="inlineStr"><is><t>Bomb</t></is></c><c><v>79161234567</v></c></row>' * 1000
    bombed = path.with_suffix(".bomb.xlsx")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(
            bombed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                target.writestr(item, source.read(item))
                continue
            with target.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.'
                            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                for _ in range(expanded_mb * 2**20 // len(row)):
                    sheet.write(row)
                sheet.write(b"</sheetData></worksheet>")
    return bombed


async def test_a_decompression_bomb_xlsx_is_refused_without_expanding_it(api, tmp_path):
    bomb = await asyncio.to_thread(xlsx_bomb, tmp_path / "list.xlsx", 300)
    assert bomb.stat().st_size < 2 * 2**20  # 300 MB of sheet in under 2 MB
    response = await upload(api, "list.xlsx", bomb.read_bytes())
    assert response.status_code == 413
    assert "over the 200 MB limit" in response.json()["detail"]
    assert await count(api, Contact) == 0


def test_a_highly_compressed_member_is_refused_by_its_ratio(tmp_path):
    bomb = xlsx_bomb(tmp_path / "list.xlsx", 20)  # under the size limit, far over the ratio
    with pytest.raises(ImportFileError, match=r"compressed \d+ times, over the limit of 100"):
        check_xlsx(bomb)


def test_the_size_limit_is_on_what_the_zip_expands_to(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_XLSX_EXPANDED", 5 * 2**20)
    with pytest.raises(ImportTooLarge, match="over the 5 MB limit"):
        check_xlsx(xlsx_bomb(tmp_path / "list.xlsx", 20))


async def test_a_large_csv_import_does_not_hold_up_the_event_loop(api):
    lines = ["ФИО;Телефон;E-mail"] + [
        f"Клиент {i};+7 916 {i // 10000:03d}-{i % 10000:04d};c{i}@example.com"
        for i in range(ROWS)]
    data = "\n".join(lines).encode()
    settle()  # as Service.start does (this fixture does not start the service)
    lags: list[float] = []
    importing = asyncio.create_task(upload(api, "big.csv", data))

    while not importing.done():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - before - 0.005)
    response = await importing
    assert response.status_code == 200 and response.json()["created"] == ROWS
    assert await count(api, Contact) == ROWS
    assert len(lags) > 20, "the import ended before the loop could be watched"
    assert max(lags) < 0.1, f"the loop stalled {max(lags) * 1000:.0f} ms during an import"


async def test_imports_beyond_the_bound_get_503_with_retry_after(api):
    held = [api.service.imports.take() for _ in range(api.service.imports.limit)]
    busy = await upload(api, "c.csv", b"name,phone\nA,+79990000001\n")
    assert busy.status_code == 503 and int(busy.headers["retry-after"]) > 0
    held.pop().release()
    assert (await upload(api, "c.csv", b"name,phone\nA,+79990000001\n")).status_code == 200
    assert api.service.imports.running == api.service.imports.limit - 1


async def test_an_upload_over_the_size_limit_is_413(api):
    response = await upload(api, "c.csv", b"name,phone\n" + b"A,+79990000001\n" * 1_500_000)
    assert response.status_code == 413 and "over 20 MB" in response.json()["detail"]
    assert await count(api, Contact) == 0


def test_too_many_rows_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    csv = tmp_path / "c.csv"
    csv.write_text("name,phone\n" + "A,+79990000001\n" * 4)
    with pytest.raises(ImportTooLarge, match="more than 3 rows"):
        importer.parse_file(csv, "c.csv", None, "RU", tmp_path / "rows")
