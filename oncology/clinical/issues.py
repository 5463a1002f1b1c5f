"""The one result type of every check in this package."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """A problem with one field.

    `field` is a model field name ("clinical_t") or a path into a patient's record
    ("surgeries[2].performed_on", "drugs[1].dose"). `message` is written for a clinician and never
    repeats patient data (dates, values, names); codes such as "T4a" and units may appear.
    `severity` is "error" (the value cannot be right) or "warning" (unusual, worth a second look).
    """

    field: str
    message: str
    severity: Severity = "error"


def errors_only(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def prefixed(prefix: str, issues: Iterable[Issue]) -> list[Issue]:
    """Re-root issues under a path: prefixed("drugs[1]", [Issue("dose", ...)])."""
    return [Issue(f"{prefix}.{i.field}", i.message, i.severity) for i in issues]
