"""Record what Spark gives for each fidelity case into tests/fidelity_cases/*.json.

    .venv/bin/python -m tests.record_fidelity_cases            # cases without an outcome
    .venv/bin/python -m tests.record_fidelity_cases --all      # re-record every case

Each case is run through the generated PySpark code in a local session (UTC), and its
`expected` rows or `expected_error` are written back. An error is stored as its Spark error
class, the text in brackets, so check the error cases by eye. The preview outcome is printed
next to it, to decide which cases need a `gap`.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from tests.case_files import CASES_FOLDER, comparable, run_preview, run_spark

ERROR_CLASS = re.compile(r"\[([A-Z_]+)(?:\.[A-Z_]+)?\]")
KEY_ORDER = ("id", "family", "tables", "expression", "filter", "query", "job", "ordered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="re-record cases that have an outcome")
    parser.add_argument("--only", nargs="+", help="record only the cases with these ids")
    args = parser.parse_args()

    from tests.conftest import spark as spark_fixture

    sessions = spark_fixture.__wrapped__()  # the test fixture's generator, run outside pytest
    spark = next(sessions)
    folder = Path(tempfile.mkdtemp(prefix="fidelity-record-"))
    for path in sorted(CASES_FOLDER.glob("*.json")):
        cases = json.loads(path.read_text(encoding="utf-8"))
        for case in cases:
            if args.only and case["id"] not in args.only:
                continue
            if not args.all and not args.only and ("expected" in case or "expected_error" in case):
                continue
            _record(spark, case, folder)
        path.write_text(dump_cases(cases), encoding="utf-8")


def _record(spark, case: dict, folder: Path) -> None:
    outcome = run_spark(spark, case, folder)
    case.pop("expected", None)
    case.pop("expected_error", None)
    if outcome.error is not None:
        match = ERROR_CLASS.search(outcome.error)
        case["expected_error"] = match.group(1) if match else outcome.error.splitlines()[0]
        print(f"{case['id']}: Spark error {case['expected_error']}")
    else:
        case["expected"] = outcome.rows
    preview = run_preview(case, folder)
    same = (
        preview.error is None
        and outcome.rows is not None
        and comparable(preview.rows, bool(case.get("ordered")))
        == comparable(outcome.rows, bool(case.get("ordered")))
    )
    if not same:
        print(f"  {case['id']}: spark {outcome.rows or outcome.error[:200]!r}")
        print(f"  {case['id']}: preview {preview.rows or preview.error!r}")


def dump_cases(cases: list[dict]) -> str:
    """Format cases as JSON with two-space indent, one table row or expected row per line."""
    blocks = [_dump_case(case) for case in cases]
    return "[\n" + ",\n".join(blocks) + "\n]\n"


def _dump_case(case: dict) -> str:
    keys = [key for key in KEY_ORDER if key in case] + sorted(k for k in case if k not in KEY_ORDER)
    lines = []
    for key in keys:
        value = case[key]
        if key == "file":
            continue
        if key == "tables":
            lines.append(f'    "tables": {_dump_tables(value)}')
        elif key == "expected" or key == "job":
            lines.append(f"    {json.dumps(key)}: {_dump_list(value, 6)}")
        else:
            lines.append(f"    {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "  {\n" + ",\n".join(lines) + "\n  }"


def _dump_tables(tables: dict) -> str:
    parts = []
    for alias, table in tables.items():
        fields = []
        for key, value in table.items():
            if key == "rows":
                fields.append(f'        "rows": {_dump_list(value, 10)}')
            else:
                fields.append(f"        {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
        parts.append(f"      {json.dumps(alias)}: {{\n" + ",\n".join(fields) + "\n      }")
    return "{\n" + ",\n".join(parts) + "\n    }"


def _dump_list(items: list, indent: int) -> str:
    if not items:
        return "[]"
    pad = " " * indent
    body = ",\n".join(pad + json.dumps(item, ensure_ascii=False) for item in items)
    return "[\n" + body + "\n" + " " * (indent - 2) + "]"


if __name__ == "__main__":
    main()
