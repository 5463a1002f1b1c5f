"""DICOM ingest: one service behind every door (upload page, API upload, STOW-RS, C-STORE,
`import_dicom`).

An instance is read without `force`, validated (required tags, transfer syntax, decodable pixel
data; imaging/services/dicom_read.py), de-duplicated by SOP Instance UID, stored through
default_storage with its SHA-256 and indexed as study -> series -> instance under the patient of
its institution whose MRN equals the PatientID tag; a study that matches no patient is held in
the unmatched queue.

Bad input never raises: it is a "rejected" result whose reason names the tag or the problem.
A failure after a file is saved deletes it, so nothing is ever half-stored. Reasons never
carry tag *values* (the PatientID is PHI); they name tags.

Speed: a door ingests through one `IngestBatch` per request, association or command run. The
batch parses each file as it arrives and indexes buffered instances together: one query finds
the SOP Instance UIDs already stored or held, one the patients, one the studies and one the
series (and those rows stay cached for the rest of the batch), one INSERT writes the instance
rows and one UPDATE per series its count. A 300-slice series through STOW-RS costs a few dozen
queries instead of nine per instance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import F

from core.audit import audit_record, audit_values
from core.models import AuditAction, User
from imaging.models import (
    HeldInstance,
    Instance,
    Series,
    Study,
    UnmatchedStatus,
    UnmatchedStudy,
)
from imaging.services import ingest_sql
from imaging.services.dicom_read import (
    DUPLICATE,
    FAILURE_CANNOT_UNDERSTAND,
    FAILURE_OUT_OF_RESOURCES,
    FAILURE_SOP_CLASS_MISMATCH,
    REJECTED,
    STORED,
    UNMATCHED,
    IngestResult,
    ParsedInstance,
    instance_fields,
    max_instance_bytes,
    parse_instance,
)
from oncology.models import Institution, Patient

__all__ = [
    "AUDIT_OBJECT",
    "DUPLICATE",
    "FAILURE_CANNOT_UNDERSTAND",
    "FAILURE_OUT_OF_RESOURCES",
    "FAILURE_SOP_CLASS_MISMATCH",
    "REJECTED",
    "STORED",
    "UNMATCHED",
    "IngestBatch",
    "IngestResult",
    "dicom_ingest",
    "ingest_audit",
    "max_instance_bytes",
]

logger = logging.getLogger(__name__)

AUDIT_OBJECT = "dicom_study"
AUDIT_UNMATCHED = "dicom_unmatched_study"
STORAGE_DIR = "imaging"
_ATTEMPTS = 3

# A batch indexes its buffered instances once it holds this many, or this many bytes (the
# buffered files are in memory until then; a CT slice is 0.5 MB).
BATCH_INSTANCES = 100
BATCH_BYTES = 128 * 1024**2
# Outside a surrounding transaction (C-STORE, import_dicom) each index step commits on its own,
# and the audit events for what it stored are written in the transaction of the step that
# brings the unaudited results to this many; the rest when the batch finishes. Inside a web
# request's transaction they are written once, when the batch finishes.
AUDIT_EVERY = 100


class _Conflict(Exception):
    """An instance's study or series is filed elsewhere (a rejection reason, not a bug)."""


@dataclass
class _Pending:
    position: int
    parsed: ParsedInstance
    data: bytes
    base: IngestResult
    sha256: str = ""
    storage_name: str = ""
    # The file's SHA-256 and write, started before the parse (see `_write_start`).
    write: Future[tuple[str, str]] | None = None


# Files are hashed and written by a small pool of threads while the ingesting thread parses and
# validates the instance: hashing and writing release the GIL, parsing needs it, so the two
# overlap instead of adding up. One pool per process (created after a fork).
WRITER_THREADS = 4
_writer_lock = threading.Lock()
_writer_pool: tuple[int, ThreadPoolExecutor] | None = None


def _writer() -> ThreadPoolExecutor:
    global _writer_pool
    with _writer_lock:
        if _writer_pool is None or _writer_pool[0] != os.getpid():
            pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="dicom-write")
            _writer_pool = (os.getpid(), pool)
        return _writer_pool[1]


def _hash_and_save(institution: Institution, data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), _save_file(institution, data)


def _may_be_instance(data: bytes) -> bool:
    """Whether `data` is worth writing before it is parsed: a non-empty Part 10 file within
    the size cap. What fails this is rejected by the parse without a file ever written."""
    return 132 <= len(data) <= max_instance_bytes() and data[128:132] == b"DICM"


def _write_start(institution: Institution, data: bytes) -> Future[tuple[str, str]] | None:
    """Hash and write `data` in the writer pool; None when it is not worth it (see
    `_may_be_instance`): the parse will reject it."""
    if not _may_be_instance(data):
        return None
    return _writer().submit(_hash_and_save, institution, data)


def _write_discard(write: Future[tuple[str, str]] | None) -> None:
    """Wait for a write whose instance is not kept and delete its file."""
    if write is None:
        return
    try:
        _, name = write.result()
    except Exception:  # noqa: BLE001  (nothing was stored; the parse result stands)
        logger.warning("A DICOM file write failed for an instance that was not kept")
        return
    default_storage.delete(name)


def _save_file(institution: Institution, data: bytes) -> str:
    """Store `data` under a new random name; its storage name.

    On plain local storage the file is written with one exclusive create (``O_EXCL``) and one
    write: the name is new (a random UUID), so Django's free-name check, per-file lock and
    64 KB chunking are round trips with nothing to protect against. Anything unusual (the
    folder does not exist yet, a name taken, another storage backend) goes through
    `default_storage.save`. Neither path fsyncs: as with every Django upload, a file is durable
    when the operating system flushes it (see docs/imaging.md)."""
    name = f"{STORAGE_DIR}/{institution.pk}/{uuid.uuid4().hex}.dcm"
    if default_storage.__class__ is FileSystemStorage:
        try:
            return _write_new_local(name, data)
        except (FileNotFoundError, FileExistsError):
            pass
    return default_storage.save(name, ContentFile(data))


def _write_new_local(name: str, data: bytes) -> str:
    path = default_storage.path(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
        mode = getattr(default_storage, "file_permissions_mode", None)
        if mode is not None:
            os.chmod(path, mode)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return name


def _delete_files(items: Iterable[_Pending]) -> None:
    for item in items:
        if item.write is not None:
            write, item.write = item.write, None
            _write_discard(write)
        if item.storage_name:
            default_storage.delete(item.storage_name)
            item.storage_name = ""


def _known_uids(uids: list[str]) -> set[str]:
    """The SOP Instance UIDs among `uids` already stored or held (one query)."""
    # order_by(): no ORDER BY inside the compound statement (SQLite, the embedded default,
    # refuses one; the models have a default ordering).
    stored = (
        Instance.objects.filter(sop_instance_uid__in=uids)
        .order_by()
        .values_list("sop_instance_uid")
    )
    held = (
        HeldInstance.objects.filter(sop_instance_uid__in=uids)
        .order_by()
        .values_list("sop_instance_uid")
    )
    return {uid for (uid,) in stored.union(held)}


class IngestBatch:
    """Ingest many files for one request, association or command run; one result per file.

    `add(filename, data)` parses the file at once (so a rejection never waits) and buffers it;
    buffered instances are indexed together every `batch_instances` files or `batch_bytes`
    bytes, and by `flush()`/`finish()`. `ingest(filename, data)` indexes one file at once and
    returns its result (C-STORE answers each instance before the next one is sent, so its
    instances cannot wait for a batch; they still share the batch's cached rows).
    `finish()` indexes what is buffered, writes the audit events not yet written, asks for
    the volume of each image series it added to be prepared for the viewer and for radiomics
    runs of the masks of each RTSTRUCT/SEG series it added; it returns every
    result in the order the files came. After an unexpected exception call `abort()` and let
    the exception go on.

    `patient`: the upload is for this patient (its page or API route); a file whose PatientID is
    not this patient's MRN is rejected rather than filed elsewhere. `study_instance_uid`: the
    STOW-RS study the request names; an instance of another study is rejected. `audit=False`
    leaves the events to the caller (`ingest_audit`). `channel` ("upload", "api", "stow",
    "cstore", "command") goes into the audit detail. `audit_in_statement`: the batch holds one
    file (an upload of one file a request); when its instance takes the one-statement path,
    that statement writes its audit event too (the same event `ingest_audit` would write).

    Inside a transaction (a web request: ATOMIC_REQUESTS) every index step is a savepoint and
    the whole batch commits or rolls back with the request. Outside one each step commits on
    its own, atomically: its rows, its files and its audit events together.
    """

    def __init__(
        self,
        *,
        actor: User | None,
        institution: Institution,
        channel: str,
        patient: Patient | None = None,
        study_instance_uid: str | None = None,
        audit: bool = True,
        audit_every: int | None = None,
        prepare_volumes: bool = True,
        batch_instances: int | None = None,
        batch_bytes: int | None = None,
        audit_in_statement: bool = False,
    ) -> None:
        self.actor = actor
        self.institution = institution
        self.channel = channel
        self.patient = patient
        self.study_instance_uid = study_instance_uid
        self.audit = audit
        self.audit_every = max(1, audit_every or AUDIT_EVERY)
        self.prepare_volumes = prepare_volumes
        self.batch_instances = batch_instances or BATCH_INSTANCES
        self.batch_bytes = batch_bytes or BATCH_BYTES
        self.audit_in_statement = audit_in_statement
        self._results: list[IngestResult | None] = []
        self._buffer: list[_Pending] = []
        self._buffer_bytes = 0
        self._unaudited: list[IngestResult] = []
        # Rows looked up or created by this batch, by DICOM UID (MRN for patients). Cleared
        # when an index step rolls back, since rows it created are then gone.
        self._patients: dict[str, Patient | None] = {}
        self._studies: dict[str, Study] = {}
        self._series: dict[str, Series] = {}
        # Voxels (rows x columns x frames) this batch added to each series, by series pk.
        self._series_added: dict[int, int] = {}
        self._step_series: dict[int, int] = {}
        # Modalities of series indexed without their rows cached (by series pk).
        self._series_modality: dict[int, str] = {}

    # --- feeding -------------------------------------------------------------------------

    @property
    def results(self) -> list[IngestResult]:
        """The results so far (buffered instances have none until they are indexed)."""
        return [r for r in self._results if r is not None]

    @property
    def ready(self) -> list[IngestResult]:
        """The results so far up to the first still buffered file: lines that can be shown in
        the order the files came."""
        done = []
        for r in self._results:
            if r is None:
                break
            done.append(r)
        return done

    def add_result(self, result: IngestResult) -> None:
        """A line decided before ingest (a refused archive entry, a non-DICOM STOW part)."""
        self._results.append(result)

    def add(self, filename: str, data: bytes) -> None:
        position = len(self._results)
        self._results.append(None)
        pending = self._parse(position, filename, data)
        if pending is None:
            return
        self._buffer.append(pending)
        self._buffer_bytes += len(data)
        if len(self._buffer) >= self.batch_instances or self._buffer_bytes >= self.batch_bytes:
            self.flush()

    def ingest(self, filename: str, data: bytes) -> IngestResult:
        """Ingest one file now (indexing it with anything still buffered) and return its result."""
        position = len(self._results)
        self._results.append(None)
        pending = self._parse(position, filename, data)
        if pending is not None:
            rows = None if self._buffer else self._fast_path(pending)
            if rows is not None:
                self._index_one(pending, *rows)
            else:
                self._buffer.append(pending)
                self._buffer_bytes += len(data)
                self.flush()
        result = self._results[position]
        assert result is not None  # noqa: S101  (every path fills the slot)
        return result

    def _fast_path(self, item: _Pending) -> tuple[Study, Series] | None:
        """The study and series rows when `item` needs nothing written but its own row and its
        series' count (ingest_sql); None otherwise."""
        if not ingest_sql.available():
            return None
        if not self._may_skip_audit():
            return None  # this instance's transaction carries the audit events
        p, patient = item.parsed, self._target(item)
        study, series = self._studies.get(p.study_uid), self._series.get(p.series_uid)
        if patient is None or study is None or series is None:
            return None
        if study.patient_id != patient.pk or series.study_id != study.pk:
            return None
        if p.modality not in study.modalities:
            return None
        return study, series

    def _index_into_series(self, item: _Pending) -> bool:
        """Index one instance whose series this batch has not looked up, with the series found
        inside the statement (ingest_sql.instance_insert_into_series); False, with nothing
        written to the database, when the statement found no series it may add to (or the
        batch knows the series already, or this instance must carry the audit events), and the
        caller goes on with the ORM path."""
        p, patient = item.parsed, self._target(item)
        if patient is None or p.series_uid in self._series:
            return False
        audit = None
        if self.audit and self.audit_in_statement and not self._unaudited:
            audit = audit_values(
                actor=self.actor,
                action=AuditAction.CREATE,
                object_type=AUDIT_OBJECT,
                patient_id=patient.pk,
                institution_id=self.institution.pk,
                detail={"format": f"dicom:{self.channel}", "count": 1, "result": []},
            )
        elif not self._may_skip_audit():
            return False
        self._materialise(item)
        try:
            found = ingest_sql.instance_insert_into_series(
                institution_id=self.institution.pk,
                patient_id=patient.pk,
                study_uid=p.study_uid,
                series_uid=p.series_uid,
                modality=p.modality,
                fields=instance_fields(p, item.storage_name, item.sha256, len(item.data)),
                audit=audit,
            )
        except BaseException:
            _delete_files([item])
            raise
        if found is None:
            return False  # the file stays written: the ORM path files it
        self._series_modality[found.series_id] = found.series_modality
        if not found.added:
            _delete_files([item])
            self._record_duplicates([item])
            return True
        self._stored_one(
            item, found.series_id, found.study_public_id, patient.pk, audited=audit is not None
        )
        return True

    def _may_skip_audit(self) -> bool:
        """Whether an instance indexed now may leave its audit event for later: always inside a
        request's transaction (the events are written when the batch finishes); outside one,
        unless it is the instance that brings the unaudited results to `audit_every` (its
        transaction carries the events)."""
        in_request = transaction.get_connection().in_atomic_block
        return not (self.audit and not in_request and len(self._unaudited) + 1 >= self.audit_every)

    def _stored_one(
        self,
        item: _Pending,
        series_pk: int,
        study_public_id: uuid.UUID,
        patient_pk: int,
        *,
        audited: bool = False,
    ) -> None:
        h = item.parsed.header
        voxels = (h["rows"] or 0) * (h["columns"] or 0) * (h["frames"] or 1)
        self._series_added[series_pk] = self._series_added.get(series_pk, 0) + voxels
        result = replace(
            item.base,
            status=STORED,
            storage_name=item.storage_name,
            failure_code=0,
            study_public_id=study_public_id,
            patient_id=patient_pk,
        )
        self._results[item.position] = result
        if self.audit and not audited:
            self._unaudited.append(result)

    def _index_one(self, item: _Pending, study: Study, series: Series) -> None:
        p = item.parsed
        self._materialise(item)
        try:
            added = ingest_sql.instance_insert_counted(
                series_id=series.pk,
                fields=instance_fields(p, item.storage_name, item.sha256, len(item.data)),
            )
        except BaseException:
            _delete_files([item])
            raise
        if not added:
            _delete_files([item])
            self._record_duplicates([item])
            return
        self._stored_one(item, series.pk, study.public_id, study.patient_id)

    def _materialise(self, item: _Pending) -> None:
        """The item's file hashed and written (waiting for its write when one was started)."""
        if item.write is not None:
            write, item.write = item.write, None
            item.sha256, item.storage_name = write.result()
        elif not item.storage_name:
            item.sha256, item.storage_name = _hash_and_save(self.institution, item.data)

    def _parse(self, position: int, filename: str, data: bytes) -> _Pending | None:
        write = _write_start(self.institution, data)
        try:
            pending = self._parse_only(position, filename, data)
        except BaseException:
            _write_discard(write)
            raise
        if pending is None:
            _write_discard(write)
        else:
            pending.write = write
        return pending

    def _parse_only(self, position: int, filename: str, data: bytes) -> _Pending | None:
        parsed = parse_instance(data, filename)
        if isinstance(parsed, IngestResult):
            self._results[position] = parsed
            return None
        p = parsed
        base = IngestResult(
            filename=filename,
            status=REJECTED,
            sop_instance_uid=p.sop_instance_uid,
            sop_class_uid=p.sop_class_uid,
            study_instance_uid=p.study_uid,
            failure_code=FAILURE_CANNOT_UNDERSTAND,
        )
        if self.study_instance_uid is not None and p.study_uid != self.study_instance_uid:
            self._results[position] = replace(
                base,
                reason="(0020,000D) StudyInstanceUID is not the study named in the request.",
                failure_code=FAILURE_SOP_CLASS_MISMATCH,
            )
            return None
        if self.patient is not None and (
            self.patient.institution_id != self.institution.pk or self.patient.mrn != p.patient_id
        ):
            self._results[position] = replace(
                base,
                reason="(0010,0020) PatientID is not this patient's MRN.",
                failure_code=FAILURE_SOP_CLASS_MISMATCH,
            )
            return None
        return _Pending(position=position, parsed=p, data=data, base=base)

    # --- indexing ------------------------------------------------------------------------

    def flush(self) -> None:
        """Index every buffered instance."""
        while self._buffer:
            items, self._buffer, self._buffer_bytes = self._buffer, [], 0
            # A SOP Instance UID sent twice in one batch: the first is indexed, the later ones
            # go round again and meet it as a duplicate (or, if it was refused, get their own
            # result).
            first: dict[str, _Pending] = {}
            again: list[_Pending] = []
            for item in items:
                if item.parsed.sop_instance_uid in first:
                    again.append(item)
                else:
                    first[item.parsed.sop_instance_uid] = item
            self._flush(list(first.values()))
            self._buffer = again

    def _flush(self, items: list[_Pending]) -> None:
        if len(items) == 1 and ingest_sql.available():
            # One file (an upload of one file a request, C-STORE's first instance): when its
            # rows exist already, one statement replaces the ORM step's five round trips; when
            # the batch has not looked its series up yet, the statement looks it up itself.
            self._find_patients(items)
            if self._target(items[0]) is not None:
                if self._index_into_series(items[0]):
                    return
                self._load_rows(items)
                rows = self._fast_path(items[0])
                if rows is not None:
                    self._index_one(items[0], *rows)
                    return
        try:
            for attempt in range(_ATTEMPTS):
                known = _known_uids([i.parsed.sop_instance_uid for i in items])
                duplicates = [i for i in items if i.parsed.sop_instance_uid in known]
                if duplicates:
                    _delete_files(duplicates)  # written on an attempt that lost a race
                    self._record_duplicates(duplicates)
                    items = [i for i in items if i.parsed.sop_instance_uid not in known]
                if not items:
                    return
                self._find_patients(items)
                for item in items:
                    self._materialise(item)
                # Inside a request's transaction the audit waits for finish(); outside one the
                # events go into the transaction of the step that stores the instances.
                outer = transaction.get_connection().in_atomic_block
                try:
                    # Two senders of one new study (parallel C-STORE associations) may both
                    # create its rows, or store one instance; the loser's unique violation rolls
                    # this step back and it runs again, finding the winner's rows.
                    with transaction.atomic():
                        results = self._index(items)
                        unaudited = self._unaudited + [
                            r for r in results.values() if r.status in (STORED, UNMATCHED)
                        ]
                        audit_now = self.audit and not outer and len(unaudited) >= self.audit_every
                        if audit_now:
                            self._write_audit(unaudited)
                except IntegrityError:
                    self._forget_rows()
                    if attempt == _ATTEMPTS - 1:
                        raise
                    continue
                except BaseException:
                    self._forget_rows()
                    raise
                self._unaudited = [] if audit_now or not self.audit else unaudited
                for item in items:
                    self._results[item.position] = results[item.position]
                    if results[item.position].status == REJECTED:
                        default_storage.delete(item.storage_name)
                        item.storage_name = ""
                    item.data = b""  # stored: the bytes need not stay in memory
                for series_pk, voxels in self._step_series.items():
                    self._series_added[series_pk] = self._series_added.get(series_pk, 0) + voxels
                return
        except BaseException:
            _delete_files(items)
            raise

    def _record_duplicates(self, items: list[_Pending]) -> None:
        existing = {
            i.sop_instance_uid: i
            for i in Instance.objects.filter(
                sop_instance_uid__in=[i.parsed.sop_instance_uid for i in items]
            ).select_related("series__study")
        }
        for item in items:
            found = existing.get(item.parsed.sop_instance_uid)
            self._results[item.position] = replace(
                item.base,
                status=DUPLICATE,
                reason="This SOP Instance UID is already stored; nothing changed.",
                failure_code=0,
                study_public_id=found.series.study.public_id if found else None,
                patient_id=found.series.study.patient_id if found else None,
            )

    def _find_patients(self, items: list[_Pending]) -> None:
        if self.patient is not None:
            return
        missing = {i.parsed.patient_id for i in items} - set(self._patients)
        if missing:
            found = {
                p.mrn: p
                for p in Patient.objects.filter(institution=self.institution, mrn__in=missing)
            }
            for mrn in missing:
                self._patients[mrn] = found.get(mrn)

    def _target(self, item: _Pending) -> Patient | None:
        return self.patient or self._patients.get(item.parsed.patient_id)

    def _forget_rows(self) -> None:
        self._studies.clear()
        self._series.clear()

    def _index(self, items: list[_Pending]) -> dict[int, IngestResult]:
        results: dict[int, IngestResult] = {}
        self._step_series = {}
        matched = [i for i in items if self._target(i) is not None]
        held = [i for i in items if self._target(i) is None]
        if matched:
            results.update(self._index_matched(matched))
        if held:
            results.update(self._hold(held))
        return results

    def _index_matched(self, items: list[_Pending]) -> dict[int, IngestResult]:
        results: dict[int, IngestResult] = {}
        self._load_rows(items)
        rows: list[Instance] = []
        added: dict[int, int] = {}  # series pk -> instances
        modalities: dict[int, set[str]] = {}  # study pk -> modalities seen
        for item in items:
            p, patient = item.parsed, self._target(item)
            assert patient is not None  # noqa: S101  (matched)
            try:
                study = self._study(p, item, patient)
                series = self._series_row(p, study)
            except _Conflict as exc:
                results[item.position] = replace(item.base, reason=str(exc))
                continue
            rows.append(
                Instance(
                    series=series,
                    **instance_fields(p, item.storage_name, item.sha256, len(item.data)),
                )
            )
            added[series.pk] = added.get(series.pk, 0) + 1
            h = p.header
            voxels = (h["rows"] or 0) * (h["columns"] or 0) * (h["frames"] or 1)
            self._step_series[series.pk] = self._step_series.get(series.pk, 0) + voxels
            modalities.setdefault(study.pk, set()).add(p.modality)
            results[item.position] = replace(
                item.base,
                status=STORED,
                storage_name=item.storage_name,
                failure_code=0,
                study_public_id=study.public_id,
                patient_id=patient.pk,
            )
        Instance.objects.bulk_create(rows)
        for series_pk, count in added.items():
            Series.objects.filter(pk=series_pk).update(instance_count=F("instance_count") + count)
        for study in {s.pk: s for s in self._studies.values()}.values():
            new = modalities.get(study.pk, set()) - set(study.modalities)
            if new:
                # Another sender may be adding a modality to the same study: read it locked.
                locked = Study.objects.select_for_update().get(pk=study.pk)
                locked.modalities = [*locked.modalities, *sorted(new - set(locked.modalities))]
                locked.save(update_fields=["modalities", "updated_at"])
                study.modalities = locked.modalities
        return results

    def _load_rows(self, items: list[_Pending]) -> None:
        """Fetch the series of `items` not cached yet with their studies (one query), then the
        studies still missing (a new series, or none of the studies' series stored yet: one
        more query). A series arriving instance by instance (an upload of one file a request)
        costs one query."""
        series_uids = {i.parsed.series_uid for i in items} - set(self._series)
        if series_uids:
            for series in Series.objects.filter(series_instance_uid__in=series_uids).select_related(
                "study"
            ):
                self._series[series.series_instance_uid] = series
                study = series.study
                if study.institution_id == self.institution.pk:
                    self._studies.setdefault(study.study_instance_uid, study)
        study_uids = {i.parsed.study_uid for i in items} - set(self._studies)
        if study_uids:
            for study in Study.objects.filter(
                institution=self.institution, study_instance_uid__in=study_uids
            ):
                self._studies[study.study_instance_uid] = study

    def _study(self, p: ParsedInstance, item: _Pending, patient: Patient) -> Study:
        study = self._studies.get(p.study_uid)
        if study is None:
            study = Study.objects.create(
                institution=self.institution,
                study_instance_uid=p.study_uid,
                patient=patient,
                modalities=[],
                **p.study,
            )
            self._studies[p.study_uid] = study
        if study.patient_id != patient.pk:
            raise _Conflict("(0020,000D) This study is already filed under another patient.")
        return study

    def _series_row(self, p: ParsedInstance, study: Study) -> Series:
        series = self._series.get(p.series_uid)
        if series is None:
            series = Series.objects.create(
                series_instance_uid=p.series_uid, study=study, modality=p.modality, **p.series
            )
            self._series[p.series_uid] = series
        if series.study_id != study.pk:
            raise _Conflict("(0020,000E) This series is already filed under another study.")
        return series

    def _hold(self, items: list[_Pending]) -> dict[int, IngestResult]:
        results: dict[int, IngestResult] = {}
        by_study: dict[str, list[_Pending]] = {}
        for item in items:
            by_study.setdefault(item.parsed.study_uid, []).append(item)
        for study_uid, group in by_study.items():
            p = group[0].parsed
            entry, _ = UnmatchedStudy.objects.select_for_update().get_or_create(
                institution=self.institution,
                study_instance_uid=study_uid,
                status=UnmatchedStatus.OPEN,
                defaults={
                    "dicom_patient_id": p.patient_id,
                    "study_date": p.study["study_date"],
                    "description": p.study["description"],
                    "modalities": [],
                },
            )
            HeldInstance.objects.bulk_create(
                HeldInstance(
                    unmatched=entry,
                    series_instance_uid=i.parsed.series_uid,
                    modality=i.parsed.modality,
                    series_description=i.parsed.series["description"],
                    series_number=i.parsed.series["series_number"],
                    frame_of_reference_uid=i.parsed.series["frame_of_reference_uid"],
                    **instance_fields(i.parsed, i.storage_name, i.sha256, len(i.data)),
                )
                for i in group
            )
            entry.received_count = F("received_count") + len(group)
            new = sorted({i.parsed.modality for i in group} - set(entry.modalities))
            entry.modalities = [*entry.modalities, *new]
            entry.save(update_fields=["received_count", "modalities", "last_received_at"])
            for item in group:
                results[item.position] = replace(
                    item.base,
                    status=UNMATCHED,
                    storage_name=item.storage_name,
                    failure_code=0,
                    reason="No patient of this institution has this PatientID; held for a "
                    "data manager.",
                )
        return results

    # --- audit, completion ---------------------------------------------------------------

    def _write_audit(self, results: list[IngestResult]) -> None:
        ingest_audit(
            actor=self.actor, institution=self.institution, results=results, channel=self.channel
        )

    def finish(self) -> list[IngestResult]:
        """Index what is buffered, write the audit events not yet written, and ask for the
        volumes of the image series this batch added to be prepared; every result, in order."""
        self.flush()
        if self._unaudited:
            unaudited, self._unaudited = self._unaudited, []
            self._write_audit(unaudited)
        added, self._series_added = self._series_added, {}
        if self.prepare_volumes and added:
            from imaging import viewer_series

            # Only a batch that brought a large part of a series itself (a STOW-RS request, an
            # association, an upload of many files, an import) asks: one file a request would
            # otherwise ask again at every file as the series grows.
            large = [
                pk
                for pk, voxels in added.items()
                if voxels >= viewer_series.PREPARE_AFTER_INGEST_MIN_VOXELS
            ]
            if large:
                viewer_series.volume_prepare_after_ingest(series_ids=large, created_by=self.actor)
        if added and self._may_add_masks(added):
            # A structure set or segmentation arrived: its masks get default-preset radiomics
            # runs (settings.RADIOMICS_ON_NEW_MASKS).
            from imaging.services.radiomics import radiomics_after_ingest

            radiomics_after_ingest(series_ids=added, actor=self.actor)
        return self.results

    def _may_add_masks(self, series_pks: Iterable[int]) -> bool:
        """Whether any of these series may be an RTSTRUCT or SEG series (the radiomics hook
        looks them up only then: an image series arriving one file a request would otherwise
        cost a query a request). A series whose row is no longer cached counts as one."""
        from imaging.viewer_series import MASK_MODALITIES

        modality = {**self._series_modality, **{s.pk: s.modality for s in self._series.values()}}
        return any(modality.get(pk, MASK_MODALITIES[0]) in MASK_MODALITIES for pk in series_pks)

    def abort(self) -> None:
        """An unexpected error stopped the batch; the caller re-raises it. Inside a transaction
        (a web request) the error rolls back the rows the batch wrote, so the files they point
        at are deleted; outside one the rows are committed, and get their audit events."""
        buffered, self._buffer, self._buffer_bytes = self._buffer, [], 0
        _delete_files(buffered)  # written (or being written) but never indexed
        if transaction.get_connection().in_atomic_block:
            for r in self.results:
                if r.storage_name and r.status in (STORED, UNMATCHED):
                    default_storage.delete(r.storage_name)
        elif self._unaudited:
            unaudited, self._unaudited = self._unaudited, []
            self._write_audit(unaudited)


def dicom_ingest(
    *,
    actor: User | None,
    institution: Institution,
    data: bytes,
    filename: str,
    channel: str,
    patient: Patient | None = None,
    study_instance_uid: str | None = None,
    audit: bool = True,
) -> IngestResult:
    """Ingest one DICOM file. Never raises for bad input: the result says what happened.

    A batch of one (see `IngestBatch` for the arguments): its audit event is written in the
    instance's transaction. Doors that take many files use an `IngestBatch`.
    """
    batch = IngestBatch(
        actor=actor,
        institution=institution,
        channel=channel,
        patient=patient,
        study_instance_uid=study_instance_uid,
        audit=audit,
        audit_every=1,
        prepare_volumes=False,
    )
    result = batch.ingest(filename, data)
    batch.finish()
    return result


def ingest_audit(
    *,
    actor: User | None,
    institution: Institution,
    results: list[IngestResult],
    channel: str,
) -> None:
    """One CREATE event per patient touched by `results` (stored instances), and one IMPORT
    event for the institution when instances were held unmatched. No PHI in the detail: counts,
    the channel and the study's public id."""
    per_patient: dict[int, list[IngestResult]] = {}
    held = 0
    for r in results:
        if r.status == STORED and r.patient_id is not None:
            per_patient.setdefault(r.patient_id, []).append(r)
        elif r.status == UNMATCHED:
            held += 1
    for patient_id, rows in per_patient.items():
        studies = sorted({str(r.study_public_id) for r in rows if r.study_public_id})
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type=AUDIT_OBJECT,
            object_id=studies[0] if len(studies) == 1 else "",
            patient_id=patient_id,
            institution_id=institution.pk,
            detail={"format": f"dicom:{channel}", "count": len(rows), "result": studies},
        )
    if held:
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            object_type=AUDIT_UNMATCHED,
            institution_id=institution.pk,
            detail={"format": f"dicom:{channel}", "count": held},
        )
