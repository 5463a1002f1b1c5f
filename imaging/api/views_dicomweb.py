"""DICOMweb QIDO-RS (search) and WADO-RS (retrieve) over the stored studies (PS3.18 10.4, 10.6;
docs/interop-dicomweb.md), under the same base URL as STOW-RS (/api/v1/dicomweb).

Thin: access, matching and audit are imaging.selectors_dicomweb's. Search answers are built
from the indexed rows (no file is read); retrieve streams the stored files as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pydicom
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ERROR_RESPONSES
from core.models import User
from imaging.api.views_ingest import DicomJsonRenderer, StowRsStudyView, StowRsView
from imaging.models import Instance, Series, Study
from imaging.selectors_dicomweb import (
    INSTANCE,
    SERIES,
    STUDY,
    QidoError,
    QidoQuery,
    SearchResult,
    instance_search,
    qido_query_parse,
    retrieve_instances,
    series_search,
    study_search,
)

DICOM_JSON = "application/dicom+json"
BASE_PATH = "/api/v1/dicomweb"
_CHUNK = 1024 * 1024
# Transfer syntaxes whose pixel data is native (uncompressed) little endian once read: frames
# of these are served as application/octet-stream. Deflate is inflated by pydicom on read.
NATIVE_TRANSFER_SYNTAXES = {
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
}
_BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
BULK_THRESHOLD = 1024  # bytes: binary values larger than this are left out of metadata


# --- DICOM JSON of the indexed rows ------------------------------------------------------


def _el(vr: str, *values: Any) -> dict[str, Any]:
    present = [v for v in values if v is not None and v != ""]
    return {"vr": vr, "Value": present} if present else {"vr": vr}


def _da(value: Any) -> dict[str, Any]:
    return _el("DA", value.strftime("%Y%m%d") if value else None)


def _base_url(request: Request) -> str:
    return request.build_absolute_uri(BASE_PATH)


def study_json(study: Study, base: str) -> dict[str, Any]:
    patient = study.patient
    name = "^".join(p for p in (patient.family_name, patient.given_name) if p)
    sex = {"female": "F", "male": "M", "other": "O"}.get(str(patient.sex))
    return {
        "00080020": _da(study.study_date),
        "00080050": _el("SH", study.accession_number),
        "00080061": _el("CS", *study.modalities),
        "00081030": _el("LO", study.description),
        "00081190": _el("UR", f"{base}/studies/{study.study_instance_uid}"),
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]} if name else {"vr": "PN"},
        "00100020": _el("LO", patient.mrn),
        "00100030": _da(patient.birth_date),
        "00100040": _el("CS", sex),
        "0020000D": _el("UI", study.study_instance_uid),
        "00201206": _el("IS", getattr(study, "n_series", None)),
        "00201208": _el("IS", getattr(study, "n_instances", None) or 0),
    }


def series_json(series: Series, base: str) -> dict[str, Any]:
    study_uid = series.study.study_instance_uid
    return {
        "00080060": _el("CS", series.modality),
        "0008103E": _el("LO", series.description),
        "00081190": _el("UR", f"{base}/studies/{study_uid}/series/{series.series_instance_uid}"),
        "0020000D": _el("UI", study_uid),
        "0020000E": _el("UI", series.series_instance_uid),
        "00200011": _el("IS", series.series_number),
        "00200052": _el("UI", series.frame_of_reference_uid),
        "00201209": _el("IS", series.instance_count),
    }


def instance_json(instance: Instance, base: str) -> dict[str, Any]:
    series = instance.series
    study_uid = series.study.study_instance_uid
    return {
        "00080016": _el("UI", instance.sop_class_uid),
        "00080018": _el("UI", instance.sop_instance_uid),
        "00080060": _el("CS", series.modality),
        "00081190": _el(
            "UR",
            f"{base}/studies/{study_uid}/series/{series.series_instance_uid}"
            f"/instances/{instance.sop_instance_uid}",
        ),
        "00083002": _el("UI", instance.transfer_syntax),
        "0020000D": _el("UI", study_uid),
        "0020000E": _el("UI", series.series_instance_uid),
        "00200013": _el("IS", instance.instance_number),
        "00280008": _el("IS", instance.frames),
        "00280010": _el("US", instance.rows),
        "00280011": _el("US", instance.columns),
    }


# --- Views -------------------------------------------------------------------------------


class _DicomwebMixin:
    """Content negotiation never fails with 406 before the view runs: a retrieve answers
    multipart/related whatever DRF's renderers are; the view checks Accept itself."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)  # type: ignore[misc]


# What a search at each level can return beyond its own attributes (includefield): the
# attributes of the levels above, from the row's parents. Each builder takes (row, base).
_STUDY_COUNTS = {"00201206", "00201208"}  # counted per study search only
_PARENTS: dict[str, list[Any]] = {
    STUDY: [],
    SERIES: [lambda row, base: study_json(row.study, base)],
    INSTANCE: [
        lambda row, base: series_json(row.series, base),
        lambda row, base: study_json(row.series.study, base),
    ],
}
_OWN: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    STUDY: study_json,
    SERIES: series_json,
    INSTANCE: instance_json,
}
# The tags of each level's own answer (study_json, series_json, instance_json build them).
STUDY_TAGS = {
    "00080020", "00080050", "00080061", "00081030", "00081190", "00100010", "00100020",
    "00100030", "00100040", "0020000D", "00201206", "00201208",
}  # fmt: skip
SERIES_TAGS = {
    "00080060", "0008103E", "00081190", "0020000D", "0020000E", "00200011", "00200052",
    "00201209",
}  # fmt: skip
INSTANCE_TAGS = {
    "00080016", "00080018", "00080060", "00081190", "00083002", "0020000D", "0020000E",
    "00200013", "00280008", "00280010", "00280011",
}  # fmt: skip
# What includefield can ask of a search at each level: its own tags and the parents' ones.
AVAILABLE_TAGS = {
    STUDY: STUDY_TAGS,
    SERIES: SERIES_TAGS | (STUDY_TAGS - _STUDY_COUNTS),
    INSTANCE: INSTANCE_TAGS | SERIES_TAGS | (STUDY_TAGS - _STUDY_COUNTS),
}


def _search_json(level: str, row: Any, base: str, query: QidoQuery) -> dict[str, Any]:
    """A match's DICOM JSON: its level's attributes, plus the attributes of the levels above
    that includefield names (all of them for includefield=all), from the indexed rows."""
    out = _OWN[level](row, base)
    if not (query.include or query.include_all):
        return out
    for parent in _PARENTS[level]:
        for tag, element in parent(row, base).items():
            if tag in out or tag == "00081190" or tag in _STUDY_COUNTS:
                continue
            if query.include_all or tag in query.include:
                out[tag] = element
    return dict(sorted(out.items()))


def _search_response(
    request: Request, result: SearchResult, query: QidoQuery, level: str
) -> Response:
    base = _base_url(request)
    body = [_search_json(level, row, base, query) for row in result.rows]
    response = Response(body, content_type=DICOM_JSON)
    warnings = []
    missing = sorted(query.include - AVAILABLE_TAGS[level])
    if missing:
        names = ", ".join(keyword_for_tag(int(tag, 16)) or tag for tag in missing)
        warnings.append(
            '299 OncoBoard "The following includefield attributes are not available and were '
            f'not returned: {names}"'
        )
    if query.ignored:
        warnings.append(
            '299 OncoBoard "The following parameters are not supported for matching and '
            f'were ignored: {", ".join(sorted(query.ignored))}"'
        )
    if result.remaining:
        warnings.append(
            f'299 OncoBoard "There are {result.remaining} additional results that can be requested"'
        )
    if warnings:
        response["Warning"] = ", ".join(warnings)
    return response


def _parse(request: Request, level: str) -> QidoQuery:
    try:
        return qido_query_parse(request.query_params, level=level)
    except QidoError as exc:
        raise exceptions.ValidationError({"query": [str(exc)]}) from exc


_QIDO_RESPONSES = {
    200: OpenApiResponse(description="DICOM JSON array of matches (PS3.18 F)."),
    **ERROR_RESPONSES,
}
_QIDO_NOTE = (
    " Matching keys (keyword or tag): PatientID, StudyInstanceUID (list), StudyDate (date or "
    "range), AccessionNumber, StudyDescription, ModalitiesInStudy, SeriesInstanceUID, "
    "Modality, SeriesNumber, SeriesDescription, SOPInstanceUID, SOPClassUID, InstanceNumber; "
    "`*` and `?` wildcards on text; limit, offset; includefield (keywords, tags or all) "
    "adds the attributes of the levels above. Only studies of patients the caller may "
    "see are returned; one audit event per patient returned."
)


def _qido_studies(request: Request) -> Response:
    user: User = request.user  # type: ignore[assignment]
    query = _parse(request, STUDY)
    return _search_response(request, study_search(user=user, query=query), query, STUDY)


class StudiesView(_DicomwebMixin, StowRsView):
    """GET: QIDO-RS search for studies; POST: STOW-RS (imaging.api.views_ingest)."""

    @extend_schema(
        operation_id="dicomweb_qido_studies",
        responses=_QIDO_RESPONSES,
        description="QIDO-RS search for studies (PS3.18 10.6)." + _QIDO_NOTE,
    )
    def get(self, request: Request) -> Response:
        return _qido_studies(request)


class StudySeriesSearchView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_qido_series",
        responses=_QIDO_RESPONSES,
        description="QIDO-RS search for series (of one study when the URL names it)." + _QIDO_NOTE,
    )
    def get(self, request: Request, study_uid: str | None = None) -> Response:
        user: User = request.user  # type: ignore[assignment]
        query = _parse(request, SERIES)
        result = series_search(user=user, query=query, study_instance_uid=study_uid)
        return _search_response(request, result, query, SERIES)


class InstanceSearchView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_qido_instances",
        responses=_QIDO_RESPONSES,
        description="QIDO-RS search for instances (of one study or series when the URL names "
        "it)." + _QIDO_NOTE,
    )
    def get(
        self, request: Request, study_uid: str | None = None, series_uid: str | None = None
    ) -> Response:
        user: User = request.user  # type: ignore[assignment]
        query = _parse(request, INSTANCE)
        result = instance_search(
            user=user,
            query=query,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
        )
        return _search_response(request, result, query, INSTANCE)


# --- WADO-RS -----------------------------------------------------------------------------


def _accepts(request: Request, part_type: str) -> bool:
    """Whether Accept allows multipart/related with parts of `part_type` (absent, */*, and
    multipart/related without a type all do). The transfer-syntax parameter is not honoured:
    instances are sent as stored (docs/interop-dicomweb.md)."""
    header = request.META.get("HTTP_ACCEPT", "").strip()
    if not header:
        return True
    for item in header.split(","):
        media, *params = [p.strip() for p in item.split(";")]
        media = media.lower()
        if media in ("*/*", "multipart/*"):
            return True
        if media != "multipart/related":
            continue
        types = [
            p.split("=", 1)[1].strip().strip('"').lower()
            for p in params
            if p.lower().startswith("type=")
        ]
        if not types or types[0] in (part_type, "*/*"):
            return True
    return False


def _multipart(parts: Iterator[tuple[str, Iterator[bytes]]], part_type: str):
    boundary = uuid.uuid4().hex

    def body() -> Iterator[bytes]:
        for content_type, chunks in parts:
            yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
            yield from chunks
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return StreamingHttpResponse(
        body(),
        content_type=f'multipart/related; type="{part_type}"; boundary={boundary}',
    )


def _file_chunks(storage_name: str) -> Iterator[bytes]:
    with default_storage.open(storage_name, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _retrieve(request: Request, **uids: str) -> HttpResponse:
    if not _accepts(request, "application/dicom"):
        raise exceptions.NotAcceptable(
            'Instances are offered as multipart/related; type="application/dicom".'
        )
    user: User = request.user  # type: ignore[assignment]
    instances = retrieve_instances(user=user, fmt="wado", **uids)
    parts = (("application/dicom", _file_chunks(i.storage_name)) for i in instances)
    return _multipart(parts, "application/dicom")


def _drop_bulk(ds: Dataset) -> None:
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _drop_bulk(item)
        elif elem.VR in _BULK_VRS and elem.value is not None and len(elem.value) > BULK_THRESHOLD:
            del ds[elem.tag]


def instance_metadata(instance: Instance) -> dict[str, Any]:
    """The instance's attributes as DICOM JSON, without pixel data and without binary values
    over BULK_THRESHOLD bytes."""
    with default_storage.open(instance.storage_name, "rb") as handle:
        ds = pydicom.dcmread(handle, stop_before_pixels=True)
    _drop_bulk(ds)
    body = ds.to_json_dict(bulk_data_threshold=BULK_THRESHOLD * 1024)
    body["00083002"] = _el("UI", instance.transfer_syntax)  # AvailableTransferSyntaxUID
    return body


def _metadata(
    request: Request,
    study_instance_uid: str,
    series_instance_uid: str | None,
    sop_instance_uid: str | None,
) -> Response:
    user: User = request.user  # type: ignore[assignment]
    instances = retrieve_instances(
        user=user,
        fmt="wado-metadata",
        study_instance_uid=study_instance_uid,
        series_instance_uid=series_instance_uid,
        sop_instance_uid=sop_instance_uid,
    )
    return Response([instance_metadata(i) for i in instances], content_type=DICOM_JSON)


_WADO_RESPONSES = {
    200: OpenApiResponse(
        description='multipart/related; type="application/dicom": the stored files.'
    ),
    406: OpenApiResponse(description="Accept names no media type we offer."),
    **ERROR_RESPONSES,
}
_METADATA_RESPONSES = {
    200: OpenApiResponse(description="DICOM JSON array, one object per instance."),
    **ERROR_RESPONSES,
}


class StudyView(_DicomwebMixin, StowRsStudyView):
    """GET: WADO-RS retrieve of a study; POST: STOW-RS to the study."""

    @extend_schema(
        operation_id="dicomweb_wado_study",
        responses=_WADO_RESPONSES,
        description="WADO-RS: every instance of the study (PS3.18 10.4). 404 when the study "
        "does not exist or belongs to a patient the caller may not see.",
    )
    def get(self, request: Request, study_uid: str) -> HttpResponse:
        return _retrieve(request, study_instance_uid=study_uid)


class SeriesView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_wado_series",
        responses=_WADO_RESPONSES,
        description="WADO-RS: every instance of the series.",
    )
    def get(self, request: Request, study_uid: str, series_uid: str) -> HttpResponse:
        return _retrieve(request, study_instance_uid=study_uid, series_instance_uid=series_uid)


class InstanceView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_wado_instance",
        responses=_WADO_RESPONSES,
        description="WADO-RS: one instance, as stored.",
    )
    def get(
        self, request: Request, study_uid: str, series_uid: str, instance_uid: str
    ) -> HttpResponse:
        return _retrieve(
            request,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            sop_instance_uid=instance_uid,
        )


class MetadataView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_wado_metadata",
        responses=_METADATA_RESPONSES,
        description="WADO-RS metadata of a study, series or instance: DICOM JSON without pixel "
        f"data and without binary values over {BULK_THRESHOLD} bytes (no BulkDataURI).",
    )
    def get(
        self,
        request: Request,
        study_uid: str,
        series_uid: str | None = None,
        instance_uid: str | None = None,
    ) -> Response:
        return _metadata(
            request,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            sop_instance_uid=instance_uid,
        )


def _frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(n) for n in text.split(",") if n.strip()]
    except ValueError as exc:
        raise exceptions.ValidationError(
            {"frames": ["A comma-separated list of frame numbers."]}
        ) from exc
    if not numbers or min(numbers) < 1:
        raise exceptions.ValidationError({"frames": ["Frame numbers start at 1."]})
    return numbers


def instance_frames(instance: Instance, numbers: list[int]) -> list[bytes]:
    """The native pixel bytes of each numbered frame (1-based). Http404 for a frame the instance
    does not have; NotAcceptable for a compressed transfer syntax or packed bits."""
    if instance.transfer_syntax not in NATIVE_TRANSFER_SYNTAXES:
        raise exceptions.NotAcceptable(
            "Frames are offered for uncompressed (native) pixel data only."
        )
    with default_storage.open(instance.storage_name, "rb") as handle:
        ds = pydicom.dcmread(handle)
    if "PixelData" not in ds:
        raise Http404("The instance has no pixel data")
    bits = int(ds.BitsAllocated)
    if bits % 8:
        raise exceptions.NotAcceptable("Frames of 1-bit pixel data are not offered.")
    size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * bits // 8
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if max(numbers) > count:
        raise Http404("No such frame")
    data = ds.PixelData
    return [data[(n - 1) * size : n * size] for n in numbers]


class FramesView(_DicomwebMixin, APIView):
    renderer_classes = [DicomJsonRenderer]

    @extend_schema(
        operation_id="dicomweb_wado_frames",
        responses={
            200: OpenApiResponse(
                description='multipart/related; type="application/octet-stream": one part '
                "per frame, native little-endian pixel bytes."
            ),
            406: OpenApiResponse(description="Compressed pixel data (not offered yet)."),
            **ERROR_RESPONSES,
        },
        description="WADO-RS frames of an instance with uncompressed pixel data.",
    )
    def get(
        self, request: Request, study_uid: str, series_uid: str, instance_uid: str, frames: str
    ) -> HttpResponse:
        numbers = _frame_numbers(frames)
        if not _accepts(request, "application/octet-stream"):
            raise exceptions.NotAcceptable(
                'Frames are offered as multipart/related; type="application/octet-stream".'
            )
        user: User = request.user  # type: ignore[assignment]
        (instance,) = retrieve_instances(
            user=user,
            fmt="wado-frames",
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            sop_instance_uid=instance_uid,
        )
        pixels = instance_frames(instance, numbers)
        parts = (("application/octet-stream", iter([p])) for p in pixels)
        return _multipart(parts, "application/octet-stream")


# One class per route, so that each route has its own OpenAPI operation.
def _route(view: type, operation_id: str, description: str) -> Any:
    return extend_schema_view(
        get=extend_schema(operation_id=operation_id, description=description)
    )(type(view.__name__, (view,), {"__doc__": description}))


SeriesSearchAllView = _route(
    StudySeriesSearchView, "dicomweb_qido_series_all", "QIDO-RS search for series." + _QIDO_NOTE
)
InstanceSearchAllView = _route(
    InstanceSearchView,
    "dicomweb_qido_instances_all",
    "QIDO-RS search for instances." + _QIDO_NOTE,
)
StudyInstanceSearchView = _route(
    InstanceSearchView,
    "dicomweb_qido_study_instances",
    "QIDO-RS search for the instances of a study." + _QIDO_NOTE,
)
StudyMetadataView = _route(
    MetadataView, "dicomweb_wado_study_metadata", "WADO-RS metadata of every instance of a study."
)
SeriesMetadataView = _route(
    MetadataView,
    "dicomweb_wado_series_metadata",
    "WADO-RS metadata of every instance of a series.",
)
