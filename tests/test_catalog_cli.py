"""The `sparkcanvas catalog` commands, called through main(argv) and as the installed script."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import open_catalog
from designer import cli
from tests.conftest import ASSETS, ROOT

EXAMPLE_FOLDER = ASSETS / "data" / "sales_catalog"
SCRIPT = Path(sys.executable).parent / "sparkcanvas"


def call(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main([str(part) for part in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def catalog_file(tmp_path) -> Path:
    return tmp_path / "catalog.db"


@pytest.fixture
def crawled(catalog_file, capsys) -> Path:
    status, _, _ = call(
        capsys, "catalog", "crawl", EXAMPLE_FOLDER, "--database", "examples", "--catalog", catalog_file
    )
    assert status == 0
    return catalog_file


@pytest.mark.parametrize("action", ["crawl", "tables", "show", "delete"])
def test_catalog_help_exits_zero(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["catalog", action, "--help"])
    assert exit_info.value.code == 0
    assert "--catalog PATH" in capsys.readouterr().out


def test_crawl_prints_summary(catalog_file, capsys):
    status, out, err = call(
        capsys, "catalog", "crawl", EXAMPLE_FOLDER, "--database", "examples", "--catalog", catalog_file
    )
    assert status == 0
    assert err == ""
    assert "4 new table(s), 5 new partition(s)" in out
    assert "new table examples.orders" in out
    assert "5 new partition(s) in examples.orders: year=2018, year=2019" in out


def test_crawl_json_report(catalog_file, capsys):
    status, out, _ = call(
        capsys,
        "catalog",
        "crawl",
        EXAMPLE_FOLDER,
        "--database",
        "ex",
        "--catalog",
        catalog_file,
        "--format",
        "json",
    )
    report = json.loads(out)
    assert status == 0
    assert sorted(report["new_tables"]) == ["ex.orders", "ex.products", "ex.trips", "ex.zones"]
    assert report["unreadable_files"] == []


def test_crawl_uses_sparkcanvas_catalog_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPARKCANVAS_CATALOG", str(tmp_path / "from-env.db"))
    status, _, _ = call(capsys, "catalog", "crawl", EXAMPLE_FOLDER / "zones.csv", "--database", "ex")
    assert status == 0
    assert [table.full_name for table in open_catalog(tmp_path / "from-env.db").list_tables()] == ["ex.zones"]


def test_catalog_option_before_action(crawled, capsys):
    status, out, _ = call(capsys, "catalog", "--catalog", crawled, "tables", "--format", "json")
    assert status == 0
    assert len(json.loads(out)) == 4


def test_crawl_missing_folder_fails(catalog_file, tmp_path, capsys):
    status, out, err = call(
        capsys, "catalog", "crawl", tmp_path / "absent", "--database", "x", "--catalog", catalog_file
    )
    assert status == 1
    assert out == ""
    assert err.startswith("sparkcanvas: error: crawl path ")
    assert err.count("\n") == 1


def test_crawl_invalid_database_fails(catalog_file, capsys):
    status, _, err = call(
        capsys, "catalog", "crawl", EXAMPLE_FOLDER, "--database", "my-db", "--catalog", catalog_file
    )
    assert status == 1
    assert "invalid database name 'my-db'" in err
    assert "for example 'my_db'" in err


def test_tables_lists_tables(crawled, capsys):
    status, out, _ = call(capsys, "catalog", "tables", "--catalog", crawled)
    lines = out.splitlines()
    assert status == 0
    assert lines[0].split(" | ")[0].strip() == "table"
    assert [line.split(" | ")[0].strip() for line in lines[2:]] == [
        "examples.orders",
        "examples.products",
        "examples.trips",
        "examples.zones",
    ]


def test_tables_json_of_one_database(crawled, capsys):
    call(
        capsys, "catalog", "crawl", EXAMPLE_FOLDER / "zones.csv", "--database", "other", "--catalog", crawled
    )
    status, out, _ = call(
        capsys, "catalog", "tables", "--database", "other", "--format", "json", "--catalog", crawled
    )
    rows = json.loads(out)
    assert status == 0
    assert [row["table"] for row in rows] == ["other.zones"]
    assert rows[0]["rows"] == 265
    assert rows[0]["format"] == "csv"


def test_tables_unknown_database_fails(crawled, capsys):
    status, _, err = call(capsys, "catalog", "tables", "--database", "exmples", "--catalog", crawled)
    assert status == 1
    assert "database 'exmples' not found" in err
    assert "Did you mean 'examples'?" in err


def test_tables_of_empty_catalog(catalog_file, capsys):
    status, out, _ = call(capsys, "catalog", "tables", "--catalog", catalog_file)
    assert status == 0
    assert "sparkcanvas catalog crawl" in out


def test_show_prints_every_section(crawled, capsys):
    status, out, _ = call(capsys, "catalog", "show", "examples.orders", "--catalog", crawled)
    assert status == 0
    assert f"Location: {EXAMPLE_FOLDER / 'orders'}" in out
    assert "Format: parquet" in out
    assert "Rows: 7000" in out
    assert "price        | decimal(6,2)" in out
    assert "year         | int          | yes" in out
    assert "Schema versions:" in out
    assert "Partitions (5):" in out
    assert "year=2022 | 1184" in out
    assert "Sample rows (first 10):" in out
    assert "OFXZ6WXHF3DQXZ6WXHF3DQ" in out


def test_show_json(crawled, capsys):
    open_catalog(crawled).update_column(
        "examples", "zones", "borough", comment="one of the five boroughs or EWR"
    )
    status, out, _ = call(
        capsys, "catalog", "show", "examples.zones", "--format", "json", "--catalog", crawled
    )
    document = json.loads(out)
    assert status == 0
    assert document["options"]["header"] is True
    assert document["columns"][1] == {
        "name": "borough",
        "type": "string",
        "comment": "one of the five boroughs or EWR",
    }
    assert [version["version"] for version in document["schema_versions"]] == [1]
    assert document["sample_rows"][0] == {
        "location_id": 1,
        "borough": "EWR",
        "zone": "Newark Airport",
        "service_zone": "EWR",
    }
    assert len(document["sample_rows"]) == 10


def test_show_unknown_table_suggests_name(crawled, capsys):
    status, _, err = call(capsys, "catalog", "show", "examples.order", "--catalog", crawled)
    assert status == 1
    assert err == (
        f"sparkcanvas: error: table 'examples.order' not found in catalog {crawled}. Did you mean 'orders'?\n"
    )


def test_show_malformed_name_fails(crawled, capsys):
    status, _, err = call(capsys, "catalog", "show", "orders", "--catalog", crawled)
    assert status == 1
    assert "write it as DATABASE.TABLE" in err


def test_show_with_moved_files_still_prints(crawled, tmp_path, capsys):
    catalog = open_catalog(crawled)
    zones = catalog.get_table("examples", "zones")
    zones.location = str(tmp_path / "gone.csv")
    catalog.save_table(zones)
    status, out, _ = call(capsys, "catalog", "show", "examples.zones", "--catalog", crawled)
    assert status == 0
    assert "not available: table examples.zones: its location" in out


def test_delete_with_yes(crawled, capsys):
    status, out, _ = call(capsys, "catalog", "delete", "examples.zones", "--yes", "--catalog", crawled)
    assert status == 0
    assert out.startswith("Deleted table examples.zones")
    assert (EXAMPLE_FOLDER / "zones.csv").is_file()
    assert "examples.zones" not in [table.full_name for table in open_catalog(crawled).list_tables()]


def test_delete_without_terminal_needs_yes(crawled, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    status, _, err = call(capsys, "catalog", "delete", "examples.zones", "--catalog", crawled)
    assert status == 1
    assert "pass --yes" in err
    assert len(open_catalog(crawled).list_tables()) == 4


def run_in_terminal(argv: list[str], answer: bytes = b"") -> tuple[int, str]:
    """Run the installed script with a pseudo-terminal as its stdin and stderr; return status and output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(SCRIPT), *argv],
        cwd=ROOT,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    if answer:
        os.write(controller, answer)
    stdout, _ = process.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.returncode, stdout.decode() + b"".join(chunks).decode(errors="replace")


def test_delete_asks_on_terminal(crawled):
    status, output = run_in_terminal(
        ["catalog", "delete", "examples.zones", "--catalog", str(crawled)], b"n\n"
    )
    assert status == 1
    assert "Delete table examples.zones" in output
    assert "was not deleted" in output
    status, output = run_in_terminal(
        ["catalog", "delete", "examples.zones", "--catalog", str(crawled)], b"y\n"
    )
    assert status == 0
    assert "Deleted table examples.zones" in output


def test_crawl_draws_progress_bar_on_terminal(catalog_file):
    argv = ["catalog", "crawl", str(EXAMPLE_FOLDER), "--database", "examples", "--catalog", str(catalog_file)]
    status, output = run_in_terminal(argv)
    assert status == 0
    assert "[##############################] 9/9" in output
    assert "4 new table(s)" in output
