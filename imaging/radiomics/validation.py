"""Comparison of computed features with the IBSI reference values.

The reference table (``ibsi_1_reference_values.csv``, extracted from the IBSI reference manual,
Zwanenburg et al., Radiology 2020;295:328-338) has one row per feature, data set,
configuration and aggregation. Digital-phantom values are reported to 3 significant digits
without tolerance: a value matches when it lies within half a unit of the last reported digit.
CT-phantom rows carry their own IBSI tolerance (at least half a unit of the last digit).
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imaging.radiomics.families import FAMILIES
from imaging.radiomics.registry import FeatureValue

AGGREGATIONS = {
    "": "",
    "2D, averaged": "2d_averaged",
    "2D, slice-merged": "2d_slice_merged",
    "2.5D, direction-merged": "2_5d_direction_merged",
    "2.5D, merged": "2_5d_merged",
    "3D, averaged": "3d_averaged",
    "3D, merged": "3d_merged",
    "2D": "2d",
    "2.5D": "2_5d",
    "3D": "3d",
}


@dataclass(frozen=True)
class ReferenceRow:
    family: str
    feature: str
    ibsi_code: str
    dataset: str
    configuration: str
    aggregation: str
    value: float | None
    tolerance: float
    value_raw: str
    occurrence: int  # 0, 1, ... among rows sharing family, code, data set, config, aggregation

    @property
    def label(self) -> str:
        agg = f" [{self.aggregation}]" if self.aggregation else ""
        return f"{self.feature} ({self.ibsi_code}){agg}"


@dataclass(frozen=True)
class Comparison:
    reference: ReferenceRow
    computed: float | None
    tolerance: float
    matched: bool
    reason: str


def half_unit_of_last_digit(value_raw: str) -> float:
    """Half the place value of the last written digit: '0.0411' -> 5e-5, '1.2 x 10^3' -> 50."""
    text = value_raw.replace(":math:", "").replace("`", "").replace("\\", "")
    exponent = 0
    power = re.search(r"10\^\{?\s*(-?\d+)\s*\}?", text)
    if power:
        exponent = int(power.group(1))
        text = text[: power.start()]
    mantissa = re.search(r"\d+(?:\.(\d+))?", text)
    if mantissa is None:
        raise ValueError(f"no number in {value_raw!r}")
    decimals = len(mantissa.group(1) or "")
    return 0.5 * 10.0 ** (exponent - decimals)


def load_reference(path: str | Path, dataset: str = "digital_phantom") -> list[ReferenceRow]:
    rows: list[ReferenceRow] = []
    seen: dict[tuple[str, ...], int] = defaultdict(int)
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["dataset"] != dataset:
                continue
            key = (r["family"], r["ibsi_code"], r["configuration"], r["aggregation"])
            value = float(r["value"]) if r["value"].strip() else None
            tolerance = 0.0
            if value is not None:
                # Reported values are rounded: never demand more than their last digit.
                tolerance = half_unit_of_last_digit(r["value_raw"])
                if dataset != "digital_phantom":
                    tolerance = max(tolerance, float(r["tolerance"] or 0.0))
            rows.append(
                ReferenceRow(
                    r["family"],
                    r["feature"],
                    r["ibsi_code"],
                    r["dataset"],
                    r["configuration"],
                    r["aggregation"],
                    value,
                    tolerance,
                    r["value_raw"],
                    seen[key],
                )
            )
            seen[key] += 1
    return rows


def compare(rows: Iterable[ReferenceRow], values: Iterable[FeatureValue]) -> list[Comparison]:
    """Pair reference rows with computed values by family, IBSI code, aggregation and order.

    Rows sharing a code (IVH V10/V90, I10/I90; the histogram minimum and 10th percentile, both
    1PR8 in the manual) pair with the features in registry order, which follows the manual.
    """
    titles = {key: fam.title for key, fam in FAMILIES.items()}
    computed: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for v in values:
        computed[(titles[v.family], v.ibsi_code, v.aggregation)].append(v.value)
    out = []
    for row in rows:
        candidates = computed.get(
            (row.family, row.ibsi_code, AGGREGATIONS.get(row.aggregation, "?")), []
        )
        value = candidates[row.occurrence] if row.occurrence < len(candidates) else None
        if row.value is None:
            out.append(Comparison(row, value, 0.0, False, "no reference value (IBSI: do not use)"))
        elif value is None:
            out.append(Comparison(row, None, row.tolerance, False, "not implemented"))
        elif not math.isfinite(value) or abs(value - row.value) > row.tolerance + 1e-12:
            reason = f"computed {value:.6g}, reference {row.value_raw} +/- {row.tolerance:.3g}"
            out.append(Comparison(row, value, row.tolerance, False, reason))
        else:
            out.append(Comparison(row, value, row.tolerance, True, ""))
    return out
