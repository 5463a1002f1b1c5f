"""Adverse events (CTCAE v5.0 terms and grades) of the treatments a synthetic patient receives.

Each regimen and radiotherapy schedule lists its common toxicities with the probability of any
grade and of grade 3-4 (round figures from the regimens' pivotal trials; see regimens.py). Most
events are grade 1-2; febrile neutropenia is grade 3 or more by definition. Onset falls within
the course, mostly in its first two months.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from oncology.clinical.toxicity import CTCAE_TERMS
from oncology.demo.radiotherapy import RT_SCHEDULES
from oncology.demo.regimens import REGIMENS, Toxicity

# Post-operative complications (Clavien-Dindo II-III in ~10-20 % of major resections):
# pneumonia after lung resection, sepsis from an anastomotic leak after bowel resection,
# post-embolisation fever after TACE.
_SURGICAL: Sequence[Toxicity] = (Toxicity("fatigue", 0.30, 0.02),)
_SURGICAL_LUNG: Sequence[Toxicity] = (Toxicity("lung_infection", 0.08, 0.5),)
_SURGICAL_BOWEL: Sequence[Toxicity] = (Toxicity("sepsis", 0.03, 1.0),)
_LOCAL_LIVER: Sequence[Toxicity] = (Toxicity("fever", 0.4, 0.05), Toxicity("nausea", 0.3, 0.05))

_ALL_TERMS = {
    tox.term
    for table in (
        *(r.toxicities for r in REGIMENS.values()),
        *(s.toxicities for s in RT_SCHEDULES.values()),
        _SURGICAL,
        _SURGICAL_LUNG,
        _SURGICAL_BOWEL,
        _LOCAL_LIVER,
    )
    for tox in table
}
if _ALL_TERMS - CTCAE_TERMS.keys():  # the term list is the clinical library's
    raise ImportError(
        f"demo toxicity terms unknown to CTCAE_TERMS: {_ALL_TERMS - CTCAE_TERMS.keys()}"
    )


def _grade(rng: np.random.Generator, tox: Toxicity) -> int:
    if rng.random() < tox.severe:
        grade = 3 if rng.random() < 0.85 else 4
    else:
        grade = 1 if rng.random() < 0.6 else 2
    # CTCAE defines some terms over fewer grades (fatigue stops at 3, alopecia at 2, febrile
    # neutropenia starts at 3, sepsis at 4): keep within the term's own range.
    grades = CTCAE_TERMS[tox.term].grades
    return min(max(grade, grades.start), grades.stop - 1)


def from_table(
    rng: np.random.Generator, table: Sequence[Toxicity], start: int, end: int
) -> Iterator[tuple[str, int, int]]:
    """(term, grade, onset day) for each toxicity of `table` that occurs in a course."""
    for tox in table:
        if rng.random() >= tox.any_grade:
            continue
        window = max(min(end - start, 60), 0)
        yield tox.term, _grade(rng, tox), start + int(rng.integers(0, window + 1))


def surgical(rng: np.random.Generator, procedure: str) -> Iterator[tuple[str, int, int]]:
    """(term, grade, days after the operation) for complications of `procedure`."""
    if "chemoembolisation" in procedure or "ablation" in procedure:
        table: Sequence[Toxicity] = _LOCAL_LIVER
    else:
        table = list(_SURGICAL)
        if "ectomy" in procedure and ("Lobe" in procedure or "Pneumon" in procedure):
            table += list(_SURGICAL_LUNG)
        if "colectomy" in procedure or "resection" in procedure:
            table += list(_SURGICAL_BOWEL)
    for tox in table:
        if rng.random() < tox.any_grade:
            yield tox.term, _grade(rng, tox), int(rng.integers(1, 15))
