"""The C-STORE door: a real pynetdicom SCU pushes to the Storage SCP over loopback.

The SCP runs in its own threads and reads rows through its own database connections, so these
tests commit (django_db(transaction=True)) instead of running inside a rolled-back transaction.
Status codes are those of PS3.4 Annex B.2.3 (Storage Service Class): 0x0000 Success, 0xA7xx
Refused: Out of Resources, 0xCxxx Error: Cannot understand.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from core.models import AuditEvent
from imaging.cstore import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    CStoreCounters,
    cstore_server_start,
    cstore_server_stop,
)
from imaging.dicom.synthetic import synthetic_series
from imaging.dicom.volume import volume_from_datasets
from imaging.models import HeldInstance, Instance, Series, UnmatchedStudy
from imaging.services.ingest import AUDIT_OBJECT
from tests.conftest import World
from tests.factories import PatientFactory
from tests.shared_data import shared_data

pytestmark = pytest.mark.django_db(transaction=True)


def _series(count: int = 3, *, patient_id: str, seed: int = 1) -> list[Dataset]:
    stored = np.random.default_rng(seed).integers(0, 2000, (count, 16, 16), dtype=np.int16)
    datasets = synthetic_series(stored)
    for ds in datasets:
        ds.PatientID = patient_id
    return datasets


def _push(
    port: int, datasets: Sequence[Dataset], *, calling_ae: str = "TESTSCU"
) -> list[Dataset] | None:
    """C-STORE every dataset over one association; the response statuses, or None when the
    association was not accepted."""
    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate("127.0.0.1", port, ae_title="ONCOBOARD")
    if not assoc.is_established:
        return None
    try:
        return [assoc.send_c_store(ds) for ds in datasets]
    finally:
        assoc.release()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def scp(world: World, media: Path) -> Iterator[SimpleNamespace]:
    counters = CStoreCounters()
    server = cstore_server_start(
        institution=world.institution, port=0, actor=world.integration, counters=counters
    )
    yield SimpleNamespace(port=server.server_address[1], server=server, counters=counters)
    cstore_server_stop(server, grace_s=5)


def test_instances_of_a_known_patient_are_stored_and_indexed(
    world: World, scp: SimpleNamespace
) -> None:
    datasets = _series(3, patient_id=world.patient.mrn)

    statuses = _push(scp.port, datasets)

    assert statuses is not None
    assert [s.Status for s in statuses] == [0x0000] * 3
    series = Series.objects.get(series_instance_uid=datasets[0].SeriesInstanceUID)
    assert series.study.patient_id == world.patient.pk
    assert series.instances.count() == 3
    assert scp.counters.counts == {"stored": 3}


def test_an_association_is_audited_once_per_patient_without_phi(
    world: World, scp: SimpleNamespace
) -> None:
    datasets = _series(3, patient_id=world.patient.mrn)

    _push(scp.port, datasets)

    events = AuditEvent.objects.filter(patient_id=world.patient.pk, object_type=AUDIT_OBJECT)
    deadline = time.monotonic() + 5  # written when the SCP handles the release
    while not events.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (event,) = events
    assert event.actor_id == world.integration.pk
    assert event.detail["format"] == "dicom:cstore"
    assert event.detail["count"] == 3
    assert world.patient.mrn not in str(event.detail)


def test_sending_the_same_instances_again_succeeds_as_duplicates_without_new_rows(
    world: World, scp: SimpleNamespace
) -> None:
    datasets = _series(2, patient_id=world.patient.mrn)
    _push(scp.port, datasets)

    statuses = _push(scp.port, datasets)

    assert statuses is not None
    assert [s.Status for s in statuses] == [0x0000, 0x0000]
    assert Instance.objects.filter(series__study__patient=world.patient).count() == 2
    assert scp.counters.counts == {"stored": 2, "duplicate": 2}


def test_an_instance_with_truncated_pixel_data_is_refused_with_a_comment_and_not_stored(
    world: World, scp: SimpleNamespace
) -> None:
    good, broken = _series(2, patient_id=world.patient.mrn)
    broken.PixelData = broken.PixelData[: len(broken.PixelData) // 2]

    statuses = _push(scp.port, [broken, good])

    assert statuses is not None
    assert statuses[0].Status == STATUS_CANNOT_UNDERSTAND
    assert statuses[0].ErrorComment  # the service's reason, so the PACS operator sees why
    assert statuses[1].Status == 0x0000  # one bad instance does not end the association
    assert not Instance.objects.filter(sop_instance_uid=broken.SOPInstanceUID).exists()
    assert Instance.objects.filter(sop_instance_uid=good.SOPInstanceUID).exists()


def test_a_study_for_an_unknown_patient_is_accepted_and_queued(
    world: World, scp: SimpleNamespace
) -> None:
    datasets = _series(2, patient_id="NOT-A-KNOWN-MRN")

    statuses = _push(scp.port, datasets)

    assert statuses is not None
    assert [s.Status for s in statuses] == [0x0000, 0x0000]
    queued = UnmatchedStudy.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
    assert queued.institution_id == world.institution.pk
    assert HeldInstance.objects.filter(unmatched=queued).count() == 2
    assert not Series.objects.filter(series_instance_uid=datasets[0].SeriesInstanceUID).exists()


def test_accepted_connections_have_nagle_disabled(world: World, scp: SimpleNamespace) -> None:
    # Nagle + delayed ACK would hold each small C-STORE-RSP for ~40 ms (see imaging/cstore.py).
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="ONCOBOARD")
    try:
        assert assoc.is_established
        accepted = scp.server.active_associations[0].dul.socket.socket
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        assoc.release()


def test_a_calling_ae_title_outside_the_allow_list_is_rejected(world: World, media: Path) -> None:
    server = cstore_server_start(institution=world.institution, port=0, calling_ae_titles=["PACS1"])
    try:
        port = server.server_address[1]
        datasets = _series(1, patient_id=world.patient.mrn)
        assert _push(port, datasets, calling_ae="INTRUDER") is None
        statuses = _push(port, datasets, calling_ae="PACS1")
        assert statuses is not None
        assert statuses[0].Status == 0x0000
    finally:
        cstore_server_stop(server, grace_s=5)


def test_an_ingest_failure_asks_the_sender_to_retry_later(world: World) -> None:
    def failing_ingest(**kwargs: Any) -> Any:
        raise OSError("disk full")

    counters = CStoreCounters()
    server = cstore_server_start(
        institution=world.institution, port=0, ingest=failing_ingest, counters=counters
    )
    try:
        statuses = _push(server.server_address[1], _series(1, patient_id="X"))
    finally:
        cstore_server_stop(server, grace_s=5)

    assert statuses is not None
    assert statuses[0].Status == STATUS_OUT_OF_RESOURCES
    assert counters.counts == {"error": 1}


def test_the_ibsi_ct_phantom_pushed_by_c_store_assembles_to_the_same_volume(
    world: World, scp: SimpleNamespace
) -> None:
    phantom = shared_data("ibsi", "ibsi_1_ct_radiomics_phantom")
    source = phantom / "dicom" / "image"
    datasets = [pydicom.dcmread(path) for path in sorted(source.glob("*.dcm"))]
    PatientFactory(institution=world.institution, mrn=str(datasets[0].PatientID))

    statuses = _push(scp.port, datasets)

    assert statuses is not None
    assert {s.Status for s in statuses} == {0x0000}
    series = Series.objects.get(series_instance_uid=datasets[0].SeriesInstanceUID)
    stored = []
    for instance in series.instances.all():
        with default_storage.open(instance.storage_name) as handle:
            stored.append(pydicom.dcmread(handle))
    received = volume_from_datasets(stored)
    # The reference is the NIfTI image the IBSI ships beside the DICOM series, not our reader.
    nifti = nib.load(phantom / "nifti" / "image" / "phantom.nii.gz")
    np.testing.assert_array_equal(received.array, np.asarray(nifti.dataobj).T)
    np.testing.assert_allclose(received.affine(ras=True), nifti.affine, atol=1e-4)
    np.testing.assert_allclose(received.spacing[::-1], nifti.header.get_zooms(), atol=1e-5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_receiver_command_stores_pushed_instances_and_stops_cleanly_on_sigterm(
    world: World, media: Path
) -> None:
    port = _free_port()
    datasets = _series(2, patient_id=world.patient.mrn)
    pushed: list[Any] = []

    def push_then_terminate() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            return  # the command failed to start and has returned: nothing to stop
        try:
            pushed.append(_push(port, datasets))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=push_then_terminate)
    sender.start()
    out = StringIO()
    call_command(
        "dicom_receiver",
        "--institution",
        world.institution.code,
        "--port",
        str(port),
        "--grace",
        "5",
        stdout=out,
    )
    sender.join(10)

    assert [s.Status for s in pushed[0]] == [0x0000, 0x0000]
    assert Instance.objects.filter(series__study__patient=world.patient).count() == 2
    assert "stored 2" in out.getvalue()
    with socket.socket() as probe:  # the port is released
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def test_an_instance_resent_within_one_association_is_a_duplicate_and_counted_once(
    world: World, scp: SimpleNamespace, media: Path
) -> None:
    datasets = _series(4, patient_id=world.patient.mrn)
    pushed = [datasets[0], datasets[1], datasets[2], datasets[1], datasets[3]]

    statuses = _push(scp.port, pushed)

    assert statuses is not None
    assert [s.Status for s in statuses] == [0x0000] * 5
    series = Series.objects.get(series_instance_uid=datasets[0].SeriesInstanceUID)
    assert series.instance_count == 4
    assert series.instances.count() == 4
    assert len(_stored_files(media)) == 4  # the resent copy's file is not kept
    assert scp.counters.counts == {"stored": 4, "duplicate": 1}


def test_a_database_failure_on_one_instance_is_not_reported_as_success(
    world: World, scp: SimpleNamespace, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from imaging.services import ingest_sql

    real = ingest_sql.instance_insert_counted
    calls = {"n": 0}

    def fail_second(**kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection")
        return real(**kwargs)

    monkeypatch.setattr(ingest_sql, "instance_insert_counted", fail_second)
    datasets = _series(4, patient_id=world.patient.mrn)

    statuses = _push(scp.port, datasets)

    assert statuses is not None
    # The first instance creates the study and series (ORM path); the next ones take the
    # one-statement path, whose second call fails.
    assert [s.Status for s in statuses] == [0x0000, 0x0000, STATUS_OUT_OF_RESOURCES, 0x0000]
    stored = set(Instance.objects.values_list("sop_instance_uid", flat=True))
    assert stored == {datasets[i].SOPInstanceUID for i in (0, 1, 3)}
    assert Series.objects.get().instance_count == 3
    assert len(_stored_files(media)) == 3  # the failed instance's file was removed


def test_a_long_association_is_audited_in_steps_that_add_up(
    world: World, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.services import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "AUDIT_EVERY", 2)
    server = cstore_server_start(institution=world.institution, port=0, actor=world.integration)
    try:
        statuses = _push(server.server_address[1], _series(5, patient_id=world.patient.mrn))
    finally:
        cstore_server_stop(server, grace_s=5)

    assert statuses is not None
    assert [s.Status for s in statuses] == [0x0000] * 5
    events = AuditEvent.objects.filter(patient_id=world.patient.pk, object_type=AUDIT_OBJECT)
    deadline = time.monotonic() + 5  # the last step is written when the SCP handles the release
    while sum(e.detail["count"] for e in events) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(e.detail["count"] for e in events) == [1, 2, 2]


# --- the file meta written in front of each received data set ----------------------------


@pytest.mark.parametrize(
    ("sop_class", "sop_instance", "syntax"),
    [
        (CTImageStorage, "1.2.3.4", ExplicitVRLittleEndian),  # even length
        (CTImageStorage, "1.2.3.45", ImplicitVRLittleEndian),  # odd length: padded
        ("1.2.840.10008.5.1.4.1.1.481.3", "9" * 64, "1.2.840.10008.1.2.4.50"),  # 64: the limit
    ],
)
def test_the_file_meta_is_byte_for_byte_pynetdicoms(sop_class, sop_instance, syntax) -> None:
    from pynetdicom.dsutils import create_file_meta, encode_file_meta

    from imaging.cstore import file_meta_bytes

    expected = encode_file_meta(
        create_file_meta(
            sop_class_uid=sop_class, sop_instance_uid=sop_instance, transfer_syntax=syntax
        )
    )
    assert file_meta_bytes(str(sop_class), sop_instance, str(syntax)) == expected


@pytest.mark.parametrize("uid", ["", "1.2.\u00e9", "1" * 65])
def test_a_uid_the_direct_encoder_cannot_write_is_refused_for_the_fallback(uid: str) -> None:
    from imaging.cstore import file_meta_bytes

    with pytest.raises(ValueError, match="short ASCII"):
        file_meta_bytes(str(CTImageStorage), uid, str(ExplicitVRLittleEndian))


def test_the_encoded_instance_is_what_pynetdicom_would_write(tmp_path: Path) -> None:
    from io import BytesIO

    from pynetdicom import evt
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.events import Event
    from pynetdicom.presentation import build_context

    from imaging.cstore import encoded_instance

    request = C_STORE()
    request.AffectedSOPClassUID = CTImageStorage
    request.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    request.DataSet = BytesIO(b"\x08\x00\x16\x00UI\x1a\x00" + str(CTImageStorage).encode())
    context = build_context(CTImageStorage, ImplicitVRLittleEndian)
    context.context_id = 1
    event = Event(
        SimpleNamespace(), evt.EVT_C_STORE, {"request": request, "context": context.as_tuple}
    )
    assert encoded_instance(event) == event.encoded_dataset()


# --- the acceptor's reactor (imaging.cstore.PromptAssociation) ---------------------------------


def _wait(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


def test_associations_run_the_prompt_reactor_and_an_abort_still_audits(
    world: World, scp: SimpleNamespace
) -> None:
    from imaging.cstore import PromptAssociation

    datasets = _series(2, patient_id=world.patient.mrn)
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="ONCOBOARD")
    assert assoc.is_established
    assert [type(a) for a in scp.server.active_associations] == [PromptAssociation]
    assert [assoc.send_c_store(ds).Status for ds in datasets] == [0x0000, 0x0000]
    assoc.abort()
    # The SCP's reactor sees the abort, ends the association and audits what it stored.
    assert _wait(lambda: not scp.server.active_associations)
    events = AuditEvent.objects.filter(patient_id=world.patient.pk, object_type=AUDIT_OBJECT)
    assert _wait(events.exists)
    assert events.get().detail["count"] == 2
    assert Instance.objects.count() == 2


def test_an_idle_association_is_aborted_at_the_network_timeout(
    world: World, scp: SimpleNamespace
) -> None:
    scp.server.ae.network_timeout = 0.5  # an association takes the AE's timeout when it opens
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="ONCOBOARD")
    assert assoc.is_established
    started = time.monotonic()
    assert _wait(lambda: assoc.is_aborted, seconds=10)
    assert time.monotonic() - started < 5
    assert _wait(lambda: not scp.server.active_associations)
