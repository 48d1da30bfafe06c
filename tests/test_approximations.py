"""approximation_reasons lists each construct the preview knowingly cannot match, and nothing else."""

from __future__ import annotations

import pytest

from codegen.expressions import approximation_reasons, parse_expression, parse_query
from designer.schema import Column

SCHEMA = [
    Column("s", "string"),
    Column("n", "int"),
    Column("price", "decimal(10,2)"),
    Column("rate", "decimal(5,3)"),
    Column("ts", "timestamp"),
    Column("tags", "array<string>"),
]


@pytest.mark.parametrize(
    "expression",
    [
        "upper(s)",
        "split(s, '.')",
        "split(s, ',', 2)",
        "regexp_replace(s, '(a)(b)', '$2$1')",
        "date_format(ts, 'yyyy-MM-dd HH:mm:ss.SSS')",
        "to_date(s, 'dd/MM/yyyy')",
        "array_distinct(tags)",
        "n / 2",
        "pmod(n, 3)",
    ],
)
def test_matched_constructs_have_no_reason(expression):
    assert approximation_reasons(parse_expression(expression), SCHEMA) == []


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("regexp_replace(s, '(?<=a)b', 'x')", "lookaround"),
        ("regexp_extract(s, '(a)\\\\1', 0)", "back-references"),
        ("s rlike 'a++'", "possessive"),
        ("regexp_replace(s, 'a', s)", "not a string literal"),
        ("date_format(ts, 'yyyy-MM-dd XXX')", "has no DuckDB equivalent"),
        ("date_format(ts, s)", "pattern that is not a string literal"),
        ("split(s, ',', n)", "ignores the limit"),
        ("price / rate", "decimal division"),
    ],
)
def test_expression_reason(expression, words):
    reasons = approximation_reasons(parse_expression(expression), SCHEMA)
    assert len(reasons) == 1
    assert words in reasons[0]


def test_query_reason_needs_input_columns():
    query = parse_query("SELECT avg(price) AS mean FROM t")
    assert approximation_reasons(query) == []
    reasons = approximation_reasons(query, SCHEMA)
    assert len(reasons) == 1
    assert "avg of a decimal column" in reasons[0]


def test_repeated_construct_gives_one_reason():
    tree = parse_expression("concat(regexp_replace(s, 'a', s), regexp_replace(s, 'b', s))")
    assert len(approximation_reasons(tree, SCHEMA)) == 1
