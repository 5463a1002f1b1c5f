"""DICOMweb STOW-RS (PS3.18 10.5): the multipart/related request body and the DICOM JSON
store response.

The body is parsed here rather than with the email package, which copies every part through
str: a 300-slice CT would be decoded and re-encoded twice. Parts are found by their boundary
with bytes.find, so the cost is one pass over the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from imaging.services.ingest import REJECTED, IngestResult

DICOM_MEDIA_TYPE = "application/dicom"


class StowRequestError(Exception):
    """The request as a whole is not a STOW-RS request we accept (HTTP 415 or 400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StowPart:
    content_type: str
    data: bytes


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    msg = Message()
    msg["content-type"] = value
    params = {k.lower(): v for k, v in (msg.get_params(header="content-type") or [])[1:]}
    return msg.get_content_type(), params


def parse_multipart_related(content_type: str, body: bytes) -> list[StowPart]:
    """The parts of a multipart/related body whose root type is application/dicom.

    StowRequestError(415) for another media type or a type parameter other than
    application/dicom (this server does not accept the metadata+bulk-data form), 400 for a
    malformed body."""
    media, params = _parse_content_type(content_type or "")
    if media != "multipart/related":
        raise StowRequestError("The request must be multipart/related.", 415)
    root = params.get("type", DICOM_MEDIA_TYPE).strip().lower()
    if root != DICOM_MEDIA_TYPE:
        raise StowRequestError(
            f'Only type="{DICOM_MEDIA_TYPE}" is accepted (not the metadata form).', 415
        )
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise StowRequestError("The Content-Type has no multipart boundary.")
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise StowRequestError("The body does not contain the multipart boundary.")
    parts: list[StowPart] = []
    pos = start + len(delimiter)
    while True:
        if body[pos : pos + 2] == b"--":
            break  # the close delimiter
        # the rest of the delimiter line (transport padding) and its CRLF
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise StowRequestError("A multipart delimiter line is not terminated.")
        if body[eol + 2 : eol + 4] == b"\r\n":  # a part without headers
            headers, content_start = b"", eol + 4
        else:
            header_end = body.find(b"\r\n\r\n", eol + 2)
            if header_end < 0:
                raise StowRequestError("A part's header block is not terminated.")
            headers, content_start = body[eol + 2 : header_end], header_end + 4
        nxt = body.find(b"\r\n" + delimiter, content_start)
        if nxt < 0:
            raise StowRequestError("The body ends inside a part (no closing boundary).")
        part_type = DICOM_MEDIA_TYPE
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-type":
                part_type, _ = _parse_content_type(value.decode("latin-1").strip())
        parts.append(StowPart(content_type=part_type, data=body[content_start:nxt]))
        pos = nxt + 2 + len(delimiter)
    if not parts:
        raise StowRequestError("The body has no parts.")
    return parts


def _uid(value: str) -> dict:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def store_response(
    results: list[IngestResult], *, retrieve_base: str, study_uid: str | None
) -> tuple[int, dict]:
    """(HTTP status, the DICOM JSON store response): 200 all stored, 202 some failed, 409 all
    failed. A duplicate (the instance was already stored) counts as stored, as in PS3.4's
    C-STORE where a re-sent instance is accepted."""
    referenced = []
    failed = []
    for r in results:
        if r.status == REJECTED:
            failed.append(
                {
                    "00081150": _uid(r.sop_class_uid),
                    "00081155": _uid(r.sop_instance_uid),
                    "00081197": {"vr": "US", "Value": [r.failure_code or 0xC000]},
                }
            )
        else:
            item = {
                "00081150": _uid(r.sop_class_uid),
                "00081155": _uid(r.sop_instance_uid),
                "00081190": {
                    "vr": "UR",
                    "Value": [
                        f"{retrieve_base}/studies/{r.study_instance_uid}/instances/"
                        f"{r.sop_instance_uid}"
                    ],
                },
            }
            referenced.append(item)
    body: dict = {}
    uids = {r.study_instance_uid for r in results if r.study_instance_uid}
    study = study_uid or (next(iter(uids)) if len(uids) == 1 else "")
    if study:
        body["00081190"] = {"vr": "UR", "Value": [f"{retrieve_base}/studies/{study}"]}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    if not failed:
        status = 200
    elif referenced:
        status = 202
    else:
        status = 409
    return status, body
