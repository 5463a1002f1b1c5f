"""The labelled feature table a benign/malignant classifier trains on.

- :func:`wisconsin`: the Wisconsin diagnostic breast cancer data (Street, Wolberg and Mangasarian
  1993; UCI), which scikit-learn ships inside its package (no download): 569 fine-needle
  aspirates of breast masses, 212 malignant and 357 benign, 30 features of the cell nuclei
  measured on the DIGITISED MICROSCOPE IMAGE of each aspirate (mean, standard error and worst
  value of radius, texture, perimeter, area, smoothness, compactness, concavity, concave points,
  symmetry and fractal dimension). It is imaging-derived but it is not CT, not lung and not
  radiomics of a lesion on a scan.
- :func:`from_csv`: a site's own labelled lesions: one row per lesion, a label column and
  numeric feature columns (e.g. radiomic features of confirmed, biopsied lesions).

Label convention everywhere: 1 = malignant, 0 = benign.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_PER_CLASS = 10
WISCONSIN_CITATION = (
    "Street WN, Wolberg WH, Mangasarian OL. Nuclear feature extraction for breast tumor "
    "diagnosis. IS&T/SPIE 1993 International Symposium on Electronic Imaging, vol. 1905, "
    "pp. 861-870. Data: UCI Machine Learning Repository, Breast Cancer Wisconsin (Diagnostic), "
    "as shipped by scikit-learn (sklearn.datasets.load_breast_cancer)."
)
LABEL_WORDS = {
    "1": 1,
    "0": 0,
    "1.0": 1,
    "0.0": 0,
    "malignant": 1,
    "benign": 0,
    "m": 1,
    "b": 0,
    "yes": 1,
    "no": 0,
    "true": 1,
    "false": 0,
}


class TableError(ValueError):
    """The table cannot train a classifier; the message names the column or problem."""


@dataclass(frozen=True)
class LesionTable:
    features: pd.DataFrame  # numeric, no missing values, one column per feature
    labels: np.ndarray  # int64, 1 malignant, 0 benign
    source: str  # "wisconsin" or "csv"
    description: str
    citation: str = ""

    @property
    def feature_names(self) -> list[str]:
        return [str(c) for c in self.features.columns]

    def snapshot_csv(self) -> bytes:
        frame = self.features.copy()
        frame.insert(0, "malignant", self.labels)
        frame.insert(0, "research_id", [f"LES-{i + 1:06d}" for i in range(len(frame))])
        return frame.to_csv(index=False).encode()


def _check(features: pd.DataFrame, labels: np.ndarray) -> None:
    malignant, benign = int((labels == 1).sum()), int((labels == 0).sum())
    if malignant < MIN_PER_CLASS or benign < MIN_PER_CLASS:
        raise TableError(
            f"training needs at least {MIN_PER_CLASS} malignant and {MIN_PER_CLASS} benign "
            f"lesions; the table has {malignant} and {benign}"
        )
    if features.shape[1] == 0:
        raise TableError("the table has no feature columns")
    constant = [str(c) for c in features.columns if features[c].nunique() < 2]
    if constant:
        raise TableError(f"feature columns with a single value cannot be used: {constant[:5]}")


def wisconsin() -> LesionTable:
    """The Wisconsin diagnostic breast data, labels recoded to 1 = malignant."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    features = data.data.copy()
    features.columns = [str(c).replace(" ", "_") for c in features.columns]
    # scikit-learn codes malignant as 0 and benign as 1 (target_names ['malignant', 'benign'])
    labels = (data.target.to_numpy() == 0).astype(np.int64)
    return LesionTable(
        features=features.astype(float),
        labels=labels,
        source="wisconsin",
        description=(
            "Wisconsin diagnostic breast cancer data: 569 fine-needle aspirates of breast masses "
            "(212 malignant, 357 benign), 30 features of cell nuclei measured on digitised "
            "microscope images. Not CT, not lung nodules."
        ),
        citation=WISCONSIN_CITATION,
    )


def from_csv(data: bytes | str, *, label: str = "malignant", description: str = "") -> LesionTable:
    """A site's labelled lesions. ``label`` names the label column (1/0, malignant/benign,
    M/B, yes/no, true/false); every other column must be numeric and complete, except an
    optional ``research_id`` column, which is ignored."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TableError(f"the file is not a readable CSV table ({type(exc).__name__})") from exc
    if label not in frame.columns:
        raise TableError(f"the table has no label column {label!r}")
    words = frame[label].astype(str).str.strip().str.lower()
    unknown = sorted(set(words[~words.isin(list(LABEL_WORDS))]))
    if unknown:
        raise TableError(
            f"label column {label!r} holds values other than 1/0, malignant/benign, M/B: "
            f"{len(unknown)} distinct value(s)"
        )
    labels = words.map(LABEL_WORDS).to_numpy(dtype=np.int64)
    features = frame.drop(columns=[c for c in (label, "research_id") if c in frame.columns])
    bad = []
    for column in features.columns:
        values = pd.to_numeric(features[column], errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
            bad.append(str(column))
        features[column] = values
    if bad:
        raise TableError(f"columns with missing or non-numeric values: {bad[:5]}")
    features.columns = [str(c) for c in features.columns]
    features = features.astype(float)
    _check(features, labels)
    return LesionTable(
        features=features,
        labels=labels,
        source="csv",
        description=description
        or f"site lesion table: {len(labels)} lesions ({int(labels.sum())} malignant)",
    )
