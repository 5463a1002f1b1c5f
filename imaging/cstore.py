"""The DICOM C-STORE door: a pynetdicom Storage SCP that hands every instance to the ingest
service.

A PACS or a modality pushes a study; each association gets one
``imaging.services.ingest.IngestBatch(..., channel="cstore")`` and each C-STORE request becomes
one ``batch.ingest(...)`` call, indexed and committed before the response goes back, with the
instance encoded as a DICOM file (preamble, file meta with the negotiated transfer syntax, then
the dataset exactly as it arrived: `Event.encoded_dataset()` does not decode it). Status
mapping (PS3.4 Annex B.2.3):

* stored, duplicate, unmatched -> 0x0000 Success. A duplicate is success because the SCU's goal
  (we hold this SOP Instance) is met and a re-send after a dropped association must not fail;
  unmatched instances are stored and wait in the data manager's queue.
* rejected (not decodable, missing tags, unsupported pixel encoding...) -> the service's
  failure code (0xC000 "Cannot understand", 0xA900 "Data set does not match SOP class"...),
  with its reason as Error Comment.
* anything unexpected (database or storage down) -> 0xA700 "Out of resources", so the SCU keeps
  the instance and retries later. The exception is logged without patient data.

What matters for speed: TCP_NODELAY on accepted sockets (Nagle's algorithm plus the peer's
delayed ACK can otherwise stall each small C-STORE-RSP for ~40 ms); the association's patient,
study and series rows looked up once, and from its second instance on one committed statement
per instance instead of five round trips (imaging/services/ingest_sql.py); one audit write per
patient per 100 instances rather than per instance; one database connection per association
thread, checked every few seconds rather than per instance and closed when the association ends
(pynetdicom runs each association in its own thread; Django's connections are per thread and
would otherwise leak). pynetdicom's DUL thread polls every 1 ms when idle; polling faster made the
transport alone ~20 % quicker but a real store slower (the poller takes the GIL from the
ingest), so it is left as it is.
"""

from __future__ import annotations

import logging
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connections
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.events import EventHandlerType
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

logger = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000
SUCCESS_OUTCOMES = frozenset({"stored", "duplicate", "unmatched"})

# The uncompressed syntaxes every SCU can send, then the compressed ones PACS commonly use.
# Whether the pixel data of a given syntax can be decoded is the ingest service's decision
# (it rejects what it cannot read, with a reason the SCU sees).
STORAGE_TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
]

CONNECTION_CHECK_INTERVAL_S = 5.0
CHANNEL = "cstore"

# Error Comment is LO: at most 64 characters.
_ERROR_COMMENT_LENGTH = 64


class NoDelayAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with TCP_NODELAY on every accepted connection.

    pynetdicom has no option for it; `get_request` is where the accepted socket first exists.
    """

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        client_socket, address = super().get_request()
        client_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client_socket, address


_PYNETDICOM_LOGGER = logging.getLogger("pynetdicom.association")


class PromptAssociation(Association):
    """pynetdicom's acceptor association, with a reactor that waits *on* the DIMSE message
    queue instead of sleeping before it looks.

    pynetdicom's `Association._run_reactor` sleeps 1 ms, then takes a decoded message off the
    queue if one is there: a C-STORE request that arrives during the sleep waits for its end
    (0.5 ms on average, about 1 ms with the sleep's overshoot) before the handler runs, once
    per instance. This loop is pynetdicom's (3.0), step for step (pause checkpoint, serve,
    release, abort, DUL alive, network timeout), except that the sleep and the non-blocking
    get are one `get(timeout=1 ms)`: a message is served as soon as it is queued, and an idle
    association wakes as often as before. Pinned pynetdicom version: uv.lock;
    tests/imaging/test_app_cstore.py runs stores, release, abort and the network timeout
    through it.
    """

    def _run_reactor(self) -> None:
        self._is_paused = False
        while not self._kill:
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False

            try:
                context_id, msg = self.dimse.msg_queue.get(timeout=0.001)
            except queue.Empty:
                context_id, msg = None, None
            if msg:
                self._serve_request(msg, context_id)  # type: ignore[arg-type]

            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                _PYNETDICOM_LOGGER.info("Association Released")
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                _PYNETDICOM_LOGGER.info(
                    "Association Aborted"
                    + (" (A-P-ABORT)" if self.acse.is_aborted("a-p-abort") else "")
                )
                self.dul.receive_pdu(wait=False)
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                _PYNETDICOM_LOGGER.error("Network timeout reached")
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return


class PromptRequestHandler(RequestHandler):
    """pynetdicom's request handler (`AssociationServer`'s documented `request_handler`),
    creating a `PromptAssociation`."""

    def handle(self) -> None:
        assoc = self._create_association()
        assoc.__class__ = PromptAssociation  # same state; only the reactor loop differs
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        assoc.start()


def set_nodelay(assoc: Any) -> None:
    """TCP_NODELAY on an established requestor association (the SCU side of a push)."""
    sock = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class CStoreCounters:
    """What the receiver did since it started, by ingest outcome (and "error")."""

    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1


_thread_state = threading.local()


def _refresh_connections() -> None:
    """Django's per-request connection check (`close_old_connections`), at most once every
    `CONNECTION_CHECK_INTERVAL_S` per association thread: with CONN_HEALTH_CHECKS each check
    costs a `SELECT 1` round trip, a few percent of an instance at a hundred instances a
    second. After a failed store the next one always checks."""
    now = time.monotonic()
    checked_at = getattr(_thread_state, "checked_at", None)
    if checked_at is None or now - checked_at >= CONNECTION_CHECK_INTERVAL_S:
        close_old_connections()
        _thread_state.checked_at = now


_PREAMBLE = b"\x00" * 128 + b"DICM"
_UID_MAX = 64


def _explicit_le(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One Explicit VR Little Endian element with a 2-byte length (UI, SH, UL)."""
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def file_meta_bytes(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str) -> bytes:
    """The File Meta Information group pynetdicom's `Event.encoded_dataset()` writes (version,
    media storage SOP class and instance, transfer syntax, pynetdicom's implementation class
    UID and version name), encoded directly: pydicom's writer builds and walks a dataset for
    these seven elements, a few percent of an instance's time at a hundred a second. Equal,
    byte for byte, to pynetdicom's (tests/imaging/test_app_cstore.py). ValueError for a UID
    that is not a short ASCII string (the caller falls back to pynetdicom's encoder)."""
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

    def padded(text: str, pad: bytes, limit: int) -> bytes:
        raw = text.encode("ascii", "replace")
        if not raw or len(raw) > limit or raw != text.encode("utf-8"):
            raise ValueError("not a short ASCII string")
        return raw + pad if len(raw) % 2 else raw

    body = b"".join(
        (
            struct.pack("<HH2s2xI", 0x0002, 0x0001, b"OB", 2) + b"\x00\x01",
            _explicit_le(2, 0x0002, b"UI", padded(sop_class_uid, b"\x00", _UID_MAX)),
            _explicit_le(2, 0x0003, b"UI", padded(sop_instance_uid, b"\x00", _UID_MAX)),
            _explicit_le(2, 0x0010, b"UI", padded(transfer_syntax, b"\x00", _UID_MAX)),
            _explicit_le(
                2, 0x0012, b"UI", padded(PYNETDICOM_IMPLEMENTATION_UID, b"\x00", _UID_MAX)
            ),
            _explicit_le(2, 0x0013, b"SH", padded(PYNETDICOM_IMPLEMENTATION_VERSION, b" ", 16)),
        )
    )
    return _explicit_le(2, 0x0000, b"UL", struct.pack("<I", len(body))) + body


def encoded_instance(event: Any) -> bytes:
    """The C-STORE data set as a DICOM file (preamble, file meta, the data set as received,
    not decoded): what `event.encoded_dataset()` returns, with the file meta encoded by
    `file_meta_bytes`."""
    request = event.request
    try:
        meta = file_meta_bytes(
            str(request.AffectedSOPClassUID or ""),
            str(request.AffectedSOPInstanceUID or ""),
            str(event.context.transfer_syntax or ""),
        )
    except ValueError:
        return bytes(event.encoded_dataset())
    return b"".join((_PREAMBLE, meta, request.DataSet.getvalue()))


def _error_comment(reason: str | None) -> str:
    text = (reason or "rejected").replace("\\", "/")
    return text.encode("ascii", "replace").decode()[:_ERROR_COMMENT_LENGTH]


def _failure(status: int, comment: str) -> Any:
    from pydicom.dataset import Dataset

    response = Dataset()
    response.Status = status
    response.ErrorComment = comment
    return response


def cstore_status(outcome: str, reason: str | None = None, failure_code: int = 0) -> Any:
    """The C-STORE response for an ingest outcome: 0x0000, or a status dataset with the
    service's failure code (0xC000 when it gives none) and its reason as Error Comment."""
    if outcome in SUCCESS_OUTCOMES:
        return STATUS_SUCCESS
    return _failure(failure_code or STATUS_CANNOT_UNDERSTAND, _error_comment(reason))


def cstore_handlers(
    *,
    institution: Any,
    actor: Any = None,
    ingest: Callable[..., Any] | None = None,
    counters: CStoreCounters | None = None,
) -> list[EventHandlerType]:
    """pynetdicom event handlers: C-STORE -> the ingest service, one `IngestBatch` per
    association, and per-thread connection cleanup.

    Each instance is indexed and committed before its response goes back (see the module
    docstring: the SCU sends the next instance only then, so a response can never wait for a
    later commit without reporting success for data not yet stored). What the association
    shares is looked up once: the patient, the study and series rows, the audit (one event per
    patient per `AUDIT_EVERY` instances, in the transaction of the instance that completes
    them, and for the rest when the association ends) and, when it ends, the request to prepare
    the viewer's volume of each image series it added. A custom `ingest` (tests) is called per
    instance with `dicom_ingest`'s arguments and audits as it likes.
    """
    batches: dict[int, Any] = {}
    batches_lock = threading.Lock()

    def batch_for(assoc: Any) -> Any:
        from imaging.services.ingest import IngestBatch

        with batches_lock:
            batch = batches.get(id(assoc))
            if batch is None:
                batch = IngestBatch(actor=actor, institution=institution, channel=CHANNEL)
                batches[id(assoc)] = batch
            return batch

    def handle_store(event: Any) -> Any:
        sop_instance_uid = str(getattr(event.request, "AffectedSOPInstanceUID", "") or "")
        filename = f"{sop_instance_uid or 'instance'}.dcm"
        _refresh_connections()
        try:
            if ingest is not None:
                result = ingest(
                    actor=actor,
                    institution=institution,
                    data=encoded_instance(event),
                    filename=filename,
                    channel=CHANNEL,
                )
            else:
                result = batch_for(event.assoc).ingest(filename, encoded_instance(event))
        except Exception:
            # Logged by type only: the message of a parser or database error may quote values.
            logger.exception("C-STORE ingest failed; the SCU is told to retry later")
            _thread_state.checked_at = None  # check the connection before the next instance
            if counters is not None:
                counters.add("error")
            return _failure(STATUS_OUT_OF_RESOURCES, "Storage temporarily unavailable")
        if counters is not None:
            counters.add(result.status)
        return cstore_status(result.status, result.reason, getattr(result, "failure_code", 0) or 0)

    def finish(assoc: Any) -> bool:
        """Finish the association's batch; whether there was one to finish."""
        with batches_lock:
            batch = batches.pop(id(assoc), None)
        if batch is None:
            return False
        try:
            batch.finish()
        except Exception:
            logger.exception("C-STORE audit or volume preparation failed at the association's end")
        return True

    def association_ended(event: Any) -> None:
        try:
            finish(event.assoc)
        finally:
            # Released/aborted fire in the association's thread, the one that ran the stores.
            connections.close_all()

    def connection_closed(event: Any) -> None:
        # A peer that drops the TCP connection without release or abort: still audit. This
        # fires in the DUL thread, which can also get here first after a peer's abort; the
        # connection it opened to finish the batch is closed again (connections are per thread).
        if finish(event.assoc):
            connections.close_all()

    return [
        (evt.EVT_C_STORE, handle_store),
        (evt.EVT_RELEASED, association_ended),
        (evt.EVT_ABORTED, association_ended),
        (evt.EVT_CONN_CLOSE, connection_closed),
    ]


def cstore_ae_create(
    *, ae_title: str = "ONCOBOARD", calling_ae_titles: Iterable[str] | None = None
) -> AE:
    """An AE that accepts the storage SOP classes in `STORAGE_TRANSFER_SYNTAXES`.

    `calling_ae_titles` (optional) is an allow-list: associations from other calling AE titles
    are rejected at association time (A-ASSOCIATE-RJ, "calling AE title not recognised").
    """
    ae = AE(ae_title=ae_title)
    for context in StoragePresentationContexts:
        if context.abstract_syntax is not None:
            ae.add_supported_context(context.abstract_syntax, STORAGE_TRANSFER_SYNTAXES)
    allowed = [title.strip() for title in calling_ae_titles or () if title.strip()]
    if allowed:
        ae.require_calling_aet = allowed
    # A modality may pause between instances of a study; the default 60 s would drop it.
    ae.network_timeout = 120
    ae.maximum_pdu_size = 0  # unlimited: fewer, larger P-DATA PDUs
    return ae


def cstore_server_start(
    *,
    institution: Any,
    host: str = "127.0.0.1",
    port: int = 11112,
    ae_title: str = "ONCOBOARD",
    calling_ae_titles: Iterable[str] | None = None,
    actor: Any = None,
    ingest: Callable[..., Any] | None = None,
    counters: CStoreCounters | None = None,
) -> NoDelayAssociationServer:
    """Start the Storage SCP in a background thread and return its server.

    Stop it with `server.shutdown()` (waits for the accept loop; running associations finish
    their current instance) then `server.server_close()`. ``port=0`` picks a free port:
    read it back from `server.server_address`.
    """
    # pynetdicom logs four INFO lines per instance; at hundreds of instances a second that is
    # noise and a measurable cost. Its warnings and errors still show.
    pynetdicom_logger = logging.getLogger("pynetdicom")
    if pynetdicom_logger.level == logging.NOTSET:
        pynetdicom_logger.setLevel(logging.WARNING)
    ae = cstore_ae_create(ae_title=ae_title, calling_ae_titles=calling_ae_titles)
    handlers = cstore_handlers(
        institution=institution, actor=actor, ingest=ingest, counters=counters
    )
    server = ae.make_server(
        (host, port),
        evt_handlers=handlers,
        server_class=NoDelayAssociationServer,
        request_handler=PromptRequestHandler,
    )
    ae._servers.append(server)  # as AE.start_server does: server.shutdown() removes it
    thread = threading.Thread(target=server.serve_forever, name=f"cstore-scp:{port}", daemon=True)
    thread.start()
    return server  # type: ignore[return-value]


def cstore_server_stop(server: ThreadedAssociationServer, *, grace_s: float = 30.0) -> int:
    """Stop accepting, let running associations finish for up to `grace_s` seconds, then abort
    the rest (the SCU retries what it did not get a response for). Returns how many were
    aborted."""
    server.shutdown()
    deadline = time.monotonic() + grace_s
    while server.active_associations and time.monotonic() < deadline:
        time.sleep(0.1)
    remaining = list(server.active_associations)
    for assoc in remaining:
        assoc.abort()
    return len(remaining)
