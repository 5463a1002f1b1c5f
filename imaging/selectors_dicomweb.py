"""Reads behind DICOMweb QIDO-RS and WADO-RS (docs/interop-dicomweb.md), through the record's
access rule: a person reaches the studies of their care teams' patients, a hospital system those
of its institution's patients (oncology.selectors.patient_visible_queryset). A study outside is
absent from search results and a 404 on retrieve, the same as one that does not exist.

Audit: a search writes one LIST event per patient whose studies, series or instances it
returned (one event without a patient when it returned nothing); a retrieve writes one VIEW
event for the study's patient. Events carry identifiers and counts only, never a query value
(a PatientID is an MRN).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import Http404
from pydicom.datadict import tag_for_keyword

from core.audit import audit_record, audit_record_many
from core.models import AuditAction, User
from imaging.models import Instance, Series, Study
from oncology.selectors import patient_visible_queryset

AUDIT_OBJECT = "dicom_study"
MAX_RESULTS = 5000  # one search's page; a larger limit is cut to this (Warning header)

STUDY, SERIES, INSTANCE = "study", "series", "instance"
_LEVEL_RANK = {STUDY: 0, SERIES: 1, INSTANCE: 2}


class QidoError(ValueError):
    """A query parameter we cannot read (HTTP 400)."""


@dataclass(frozen=True)
class MatchKey:
    keyword: str
    tag: str
    level: str
    field: str  # relative to the model of the key's level
    kind: str  # "uid" (list match), "string" (wildcards), "date" (range), "int", "modalities"


MATCH_KEYS = [
    MatchKey("PatientID", "00100020", STUDY, "patient__mrn", "string"),
    MatchKey("StudyInstanceUID", "0020000D", STUDY, "study_instance_uid", "uid"),
    MatchKey("StudyDate", "00080020", STUDY, "study_date", "date"),
    MatchKey("AccessionNumber", "00080050", STUDY, "accession_number", "string"),
    MatchKey("StudyDescription", "00081030", STUDY, "description", "string"),
    MatchKey("ModalitiesInStudy", "00080061", STUDY, "", "modalities"),
    MatchKey("SeriesInstanceUID", "0020000E", SERIES, "series_instance_uid", "uid"),
    MatchKey("Modality", "00080060", SERIES, "modality", "string"),
    MatchKey("SeriesNumber", "00200011", SERIES, "series_number", "int"),
    MatchKey("SeriesDescription", "0008103E", SERIES, "description", "string"),
    MatchKey("SOPInstanceUID", "00080018", INSTANCE, "sop_instance_uid", "uid"),
    MatchKey("SOPClassUID", "00080016", INSTANCE, "sop_class_uid", "uid"),
    MatchKey("InstanceNumber", "00200013", INSTANCE, "instance_number", "int"),
]
_BY_NAME = {k.keyword.lower(): k for k in MATCH_KEYS} | {k.tag.lower(): k for k in MATCH_KEYS}
CONTROL_PARAMS = {"limit", "offset", "includefield", "fuzzymatching"}

# Prefix from a queryset's model to the model of a key's level.
_PREFIX = {
    STUDY: {STUDY: ""},
    SERIES: {STUDY: "study__", SERIES: ""},
    INSTANCE: {STUDY: "series__study__", SERIES: "series__", INSTANCE: ""},
}


@dataclass
class QidoQuery:
    """The matching part of a QIDO-RS request, parsed."""

    matches: list[tuple[MatchKey, str]] = field(default_factory=list)
    limit: int = MAX_RESULTS
    offset: int = 0
    ignored: list[str] = field(default_factory=list)  # parameters we do not match on
    # includefield: tags (upper-case hex) asked for, or include_all for "all"
    include: set[str] = field(default_factory=set)
    include_all: bool = False


def _include_tag(value: str) -> str:
    """The tag ("00100020") an includefield value names (a keyword or 8 hex digits); "" when
    it names no DICOM attribute."""
    text = value.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        return text.upper()
    tag = tag_for_keyword(text) if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text) else None
    return f"{tag:08X}" if tag is not None else ""


def qido_query_parse(params: Any, *, level: str) -> QidoQuery:
    """`params` is a QueryDict (or a mapping of lists). Keys are keywords or tags; a key of
    a level below the searched one (SOPInstanceUID in a study search) is ignored and named in
    `ignored`, as are keys we do not support."""
    query = QidoQuery()
    for raw_key in params:
        key = raw_key.strip()
        values = params.getlist(raw_key) if hasattr(params, "getlist") else list(params[raw_key])
        lowered = key.lower()
        if lowered in ("limit", "offset"):
            try:
                number = int(values[-1])
            except (TypeError, ValueError) as exc:
                raise QidoError(f"{key} must be a whole number.") from exc
            if number < 0:
                raise QidoError(f"{key} must not be negative.")
            if lowered == "limit":
                query.limit = min(number, MAX_RESULTS) if number else MAX_RESULTS
            else:
                query.offset = number
            continue
        if lowered == "includefield":
            for value in values:
                for part in re.split(r"[,\\]", value):
                    if not part.strip():
                        continue
                    if part.strip().lower() == "all":
                        query.include_all = True
                        continue
                    tag = _include_tag(part)
                    if not tag:
                        raise QidoError(f"includefield {part.strip()[:64]!r} is not an attribute.")
                    query.include.add(tag)
            continue
        if lowered in CONTROL_PARAMS:
            continue  # fuzzymatching: matching is exact or wildcard
        match = _BY_NAME.get(lowered)
        if match is None or _LEVEL_RANK[match.level] > _LEVEL_RANK[level]:
            query.ignored.append(key)
            continue
        for value in values:
            if value != "":  # an empty value is universal matching: no constraint
                _key_q(level, match, value)  # QidoError now for a value we cannot read
                query.matches.append((match, value))
    return query


def _wildcard_q(path: str, value: str) -> Q:
    if "*" not in value and "?" not in value:
        return Q(**{path: value})
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return Q(**{f"{path}__regex": f"^{pattern}$"})


def _date(value: str) -> datetime.date:
    text = value.strip()
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise QidoError("StudyDate must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD.") from exc


def _date_q(path: str, value: str) -> Q:
    if "-" not in value:
        return Q(**{path: _date(value)})
    low, _, high = value.partition("-")
    q = Q()
    if low:
        q &= Q(**{f"{path}__gte": _date(low)})
    if high:
        q &= Q(**{f"{path}__lte": _date(high)})
    if not low and not high:
        raise QidoError("A StudyDate range needs at least one end.")
    return q


def _key_q(level: str, key: MatchKey, value: str) -> Q:
    if "\x00" in value or len(value) > 1024:
        raise QidoError(f"{key.keyword} has a value we cannot match on.")
    prefix = _PREFIX[level][key.level]
    path = prefix + key.field
    if key.kind == "uid":
        uids = [u.strip() for u in re.split(r"[,\\]", value) if u.strip()]
        return Q(**{f"{path}__in": uids})
    if key.kind == "date":
        return _date_q(path, value)
    if key.kind == "int":
        try:
            number = int(value)
        except ValueError as exc:
            raise QidoError(f"{key.keyword} must be a whole number.") from exc
        if not -(2**31) <= number < 2**31:  # IS is a 32-bit value; so is the column
            raise QidoError(f"{key.keyword} is out of range.")
        return Q(**{path: number})
    if key.kind == "modalities":
        modalities = [m.strip() for m in re.split(r"[,\\]", value) if m.strip()]
        study_ref = OuterRef(prefix + "pk") if prefix else OuterRef("pk")
        return Q(Exists(Series.objects.filter(study_id=study_ref, modality__in=modalities)))
    return _wildcard_q(path, value)


def _visible(user: User, level: str) -> QuerySet[Any]:
    patients = patient_visible_queryset(user=user)
    if level == STUDY:
        return Study.objects.filter(patient__in=patients)
    if level == SERIES:
        return Series.objects.filter(study__patient__in=patients)
    return Instance.objects.filter(series__study__patient__in=patients)


def _audit_search(user: User, rows: list[tuple[int, int]]) -> None:
    """`rows`: (patient id, institution id) of each result."""
    counts: dict[tuple[int, int], int] = {}
    for key in rows:
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        audit_record(
            actor=user,
            action=AuditAction.LIST,
            object_type=AUDIT_OBJECT,
            institution_id=user.institution_id,
            detail={"count": 0, "format": "qido"},
        )
        return
    audit_record_many(
        actor=user,
        events=[
            {
                "action": AuditAction.LIST,
                "object_type": AUDIT_OBJECT,
                "patient_id": patient_id,
                "institution_id": institution_id,
                "detail": {"count": n, "format": "qido"},
            }
            for (patient_id, institution_id), n in sorted(counts.items())
        ],
    )


@dataclass
class SearchResult:
    rows: list[Any]
    remaining: int  # matches after this page


def _page(queryset: QuerySet[Any], query: QidoQuery) -> SearchResult:
    total = queryset.count()
    rows = list(queryset[query.offset : query.offset + query.limit])
    return SearchResult(rows=rows, remaining=max(0, total - query.offset - len(rows)))


def _filtered(user: User, level: str, query: QidoQuery, **scope: str) -> QuerySet[Any]:
    queryset = _visible(user, level)
    for key, value in query.matches:
        queryset = queryset.filter(_key_q(level, key, value))
    for name, uid in scope.items():  # the UIDs of the URL path
        key = _BY_NAME[name.lower()]
        queryset = queryset.filter(**{_PREFIX[level][key.level] + key.field: uid})
    return queryset


def study_search(*, user: User, query: QidoQuery) -> SearchResult:
    """Studies matching `query` that `user` may see, with their series and instance counts."""
    queryset = (
        _filtered(user, STUDY, query)
        .select_related("patient")
        .annotate(
            n_series=Count("series", distinct=True),
            n_instances=Sum("series__instance_count"),
        )
        .order_by("-study_date", "pk")
    )
    result = _page(queryset, query)
    _audit_search(user, [(s.patient_id, s.institution_id) for s in result.rows])
    return result


def series_search(
    *, user: User, query: QidoQuery, study_instance_uid: str | None = None
) -> SearchResult:
    scope = {"StudyInstanceUID": study_instance_uid} if study_instance_uid else {}
    queryset = (
        _filtered(user, SERIES, query, **scope)
        .select_related("study__patient")
        .order_by("study__pk", "series_number", "pk")
    )
    result = _page(queryset, query)
    _audit_search(user, [(s.study.patient_id, s.study.institution_id) for s in result.rows])
    return result


def instance_search(
    *,
    user: User,
    query: QidoQuery,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
) -> SearchResult:
    scope = {}
    if study_instance_uid:
        scope["StudyInstanceUID"] = study_instance_uid
    if series_instance_uid:
        scope["SeriesInstanceUID"] = series_instance_uid
    queryset = (
        _filtered(user, INSTANCE, query, **scope)
        .select_related("series__study__patient")
        .order_by(
            "series__study__pk", "series__series_number", "series__pk", "instance_number", "pk"
        )
    )
    result = _page(queryset, query)
    _audit_search(
        user, [(i.series.study.patient_id, i.series.study.institution_id) for i in result.rows]
    )
    return result


# --- retrieve ----------------------------------------------------------------------------


def _study_get(user: User, study_instance_uid: str) -> Study:
    study = (
        _visible(user, STUDY)
        .filter(study_instance_uid=study_instance_uid)
        .select_related("patient")
        .order_by("pk")
        .first()
    )
    if study is None:
        raise Http404("No such study")
    return study


def _audit_retrieve(user: User, study: Study, *, fmt: str, count: int) -> None:
    audit_record(
        actor=user,
        action=AuditAction.VIEW,
        object_type=AUDIT_OBJECT,
        object_id=study.public_id,
        patient_id=study.patient_id,
        institution_id=study.institution_id,
        detail={"format": fmt, "count": count},
    )


def retrieve_instances(
    *,
    user: User,
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    fmt: str = "wado",
) -> list[Instance]:
    """The instances a WADO-RS retrieve (or metadata, frames) names, in order; Http404 when the
    study, series or instance does not exist or `user` may not see it, or when it has none.
    One VIEW event for the study's patient."""
    study = _study_get(user, study_instance_uid)
    instances = Instance.objects.filter(series__study=study).select_related("series")
    if series_instance_uid is not None:
        instances = instances.filter(series__series_instance_uid=series_instance_uid)
    if sop_instance_uid is not None:
        instances = instances.filter(sop_instance_uid=sop_instance_uid)
    rows = list(instances.order_by("series__series_number", "series__pk", "instance_number", "pk"))
    if not rows:
        raise Http404("No such instance")
    _audit_retrieve(user, study, fmt=fmt, count=len(rows))
    return rows
