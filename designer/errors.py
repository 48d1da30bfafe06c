"""The SparkCanvas error family.

Every message names the node, the parameter and the value where there is one, and suggests
what to do next.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


class SparkCanvasError(Exception):
    """Base class of every error SparkCanvas raises on purpose."""


class JobFormatError(SparkCanvasError):
    """A job file that cannot be read: not JSON, or an unsupported format version."""


class ExpressionError(SparkCanvasError):
    """A Spark SQL expression that does not parse or names an unknown column."""


class PreviewError(SparkCanvasError):
    """A node whose preview failed."""


class RunError(SparkCanvasError):
    """A run that could not start or failed."""


@dataclass(frozen=True)
class Problem:
    """One validation finding, tied to a node and parameter where there is one."""

    message: str
    node_id: str | None = None
    parameter: str | None = None

    def __str__(self) -> str:
        where = []
        if self.node_id is not None:
            where.append(f"node {self.node_id!r}")
        if self.parameter is not None:
            where.append(f"parameter {self.parameter!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class JobValidationError(SparkCanvasError):
    """A job with one or more problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"the job has {len(problems)} {noun}:\n{lines}")


def did_you_mean(name: str, candidates: list[str]) -> str:
    """Return a ' Did you mean ...?' hint naming the closest candidates, or ''."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.5)
    if not matches:
        return ""
    names = " or ".join(repr(by_lower[match]) for match in matches)
    return f" Did you mean {names}?"
