"""DICOMweb QIDO-RS and WADO-RS (docs/interop-dicomweb.md): matching, paging, the DICOM JSON
answers, retrieve of the stored bytes, metadata, frames, access (a patient outside the care team
is absent from searches and a 404 on retrieve) and audit. Studies are stored through STOW-RS, so
the index searched is the one ingest builds. The last tests run dicomweb-client against the
live test server."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pydicom
import pytest
from django.core.files.storage import default_storage
from pydicom.uid import generate_uid
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import AuditEvent
from imaging.models import Instance
from tests.conftest import World
from tests.factories import PatientFactory
from tests.imaging.test_app_ingest import ct_bytes
from tests.imaging.test_app_stow import stow

BASE = "/api/v1/dicomweb"
# Tags of the answers
STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
N_SERIES, N_STUDY_INSTANCES, N_SERIES_INSTANCES = "00201206", "00201208", "00201209"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def instance_bytes(
    mrn: str, study: str, series: str, *, date: str, accession: str, modality: str = "CT"
) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(ct_bytes(patient_id=mrn, study_uid=study, series_uid=series)))
    ds.StudyDate = date
    ds.AccessionNumber = accession
    ds.Modality = modality
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


class Stored:
    """Two studies of the care team's patient and one of a patient of another team."""

    def __init__(self, world: World, api: APIClient) -> None:
        self.other_patient = PatientFactory(institution=world.institution, teams=[world.other_team])
        self.study_a, self.study_b, self.study_c = generate_uid(), generate_uid(), generate_uid()
        self.series_a1, self.series_a2 = generate_uid(), generate_uid()
        self.series_b, self.series_c = generate_uid(), generate_uid()
        mrn = world.patient.mrn
        parts = [
            instance_bytes(mrn, self.study_a, self.series_a1, date="20240110", accession="ACC-1")
            for _ in range(3)
        ] + [
            instance_bytes(
                mrn,
                self.study_a,
                self.series_a2,
                date="20240110",
                accession="ACC-1",
                modality="MR",
            ),
            instance_bytes(mrn, self.study_b, self.series_b, date="20250301", accession="ACC-2"),
            instance_bytes(
                self.other_patient.mrn,
                self.study_c,
                self.series_c,
                date="20240110",
                accession="ACC-3",
            ),
        ]
        assert stow(api, parts).status_code == 200


@pytest.fixture
def stored(world: World, api_integration: APIClient) -> Stored:
    return Stored(world, api_integration)


def uids(body: list[dict], tag: str) -> set[str]:
    return {item[tag]["Value"][0] for item in body}


def qido(client: APIClient, path: str, **params: str):
    response = client.get(f"{BASE}{path}", params, HTTP_ACCEPT="application/dicom+json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/dicom+json")
    return response


# --- QIDO-RS -----------------------------------------------------------------------------


def test_a_study_search_returns_the_care_teams_studies_with_the_required_attributes(
    world, stored, api_member
) -> None:
    body = qido(api_member, "/studies").json()
    assert uids(body, STUDY_UID) == {stored.study_a, stored.study_b}  # not the other team's
    (a,) = [s for s in body if s[STUDY_UID]["Value"] == [stored.study_a]]
    assert a["00080020"] == {"vr": "DA", "Value": ["20240110"]}
    assert a["00080050"] == {"vr": "SH", "Value": ["ACC-1"]}
    assert sorted(a["00080061"]["Value"]) == ["CT", "MR"]
    assert a["00100020"] == {"vr": "LO", "Value": [world.patient.mrn]}
    assert a[N_SERIES]["Value"] == [2]
    assert a[N_STUDY_INSTANCES]["Value"] == [4]
    assert a["00081190"]["Value"][0].endswith(f"{BASE}/studies/{stored.study_a}")


def test_study_matching_keys(world, stored, api_member) -> None:
    def found(**params: str) -> set[str]:
        return uids(qido(api_member, "/studies", **params).json(), STUDY_UID)

    assert found(StudyDate="20240110") == {stored.study_a}
    assert found(StudyDate="20240101-20241231") == {stored.study_a}
    assert found(StudyDate="20250101-") == {stored.study_b}
    assert found(StudyDate="-20231231") == set()
    assert found(AccessionNumber="ACC-2") == {stored.study_b}
    assert found(AccessionNumber="ACC-*") == {stored.study_a, stored.study_b}
    assert found(ModalitiesInStudy="MR") == {stored.study_a}
    assert found(**{"00080061": "CT"}) == {stored.study_a, stored.study_b}  # by tag
    assert found(PatientID=world.patient.mrn) == {stored.study_a, stored.study_b}
    assert found(PatientID=stored.other_patient.mrn) == set()  # outside the care team
    assert found(StudyInstanceUID=f"{stored.study_b},{stored.study_c}") == {stored.study_b}


def test_limit_offset_and_the_warning_for_more_results(stored, api_member) -> None:
    first = qido(api_member, "/studies", limit="1")
    assert len(first.json()) == 1
    assert "1 additional results" in first["Warning"]
    second = qido(api_member, "/studies", limit="1", offset="1")
    assert uids(first.json(), STUDY_UID) | uids(second.json(), STUDY_UID) == {
        stored.study_a,
        stored.study_b,
    }
    assert "Warning" not in second
    ignored = qido(api_member, "/studies", PatientName="X*", includefield="all")
    assert "PatientName" in ignored["Warning"]  # not a matching key: ignored, said so


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/studies", {"StudyDate": "2024-13"}),
        ("/studies", {"StudyDate": "20241301"}),
        ("/series", {"SeriesNumber": "one"}),
        ("/series", {"SeriesNumber": str(2**40)}),  # past the column's range: not a 500
        ("/studies", {"AccessionNumber": "A\x00"}),
        ("/studies", {"limit": "-1"}),
        ("/studies", {"offset": "x"}),
    ],
)
def test_a_value_we_cannot_read_is_400(stored, api_member, path, params) -> None:
    assert api_member.get(f"{BASE}{path}", params).status_code == 400


def test_series_and_instance_searches(stored, api_member) -> None:
    series = qido(api_member, f"/studies/{stored.study_a}/series").json()
    assert uids(series, SERIES_UID) == {stored.series_a1, stored.series_a2}
    (a1,) = [s for s in series if s[SERIES_UID]["Value"] == [stored.series_a1]]
    assert a1[N_SERIES_INSTANCES]["Value"] == [3]
    assert a1["00080060"]["Value"] == ["CT"]
    mr = qido(api_member, "/series", Modality="MR").json()
    assert uids(mr, SERIES_UID) == {stored.series_a2}
    assert uids(mr, STUDY_UID) == {stored.study_a}
    instances = qido(
        api_member, f"/studies/{stored.study_a}/series/{stored.series_a1}/instances"
    ).json()
    expected = set(
        Instance.objects.filter(series__series_instance_uid=stored.series_a1).values_list(
            "sop_instance_uid", flat=True
        )
    )
    assert len(expected) == 3
    assert uids(instances, SOP_UID) == expected
    one = next(iter(expected))
    assert uids(qido(api_member, "/instances", SOPInstanceUID=one).json(), SOP_UID) == {one}
    in_study = qido(api_member, f"/studies/{stored.study_a}/instances").json()
    assert len(in_study) == 4
    assert in_study[0]["00280010"] == {"vr": "US", "Value": [128]}  # CT_small is 128 x 128


def test_includefield_adds_the_attributes_of_the_levels_above(world, stored, api_member) -> None:
    # Without includefield a series answer holds series attributes only (and StudyInstanceUID).
    (plain,) = qido(api_member, "/series", SeriesInstanceUID=stored.series_b).json()
    assert "00100020" not in plain
    assert "00080020" not in plain
    response = qido(
        api_member,
        "/series",
        SeriesInstanceUID=stored.series_b,
        includefield="PatientID,00080020",
    )
    (series,) = response.json()
    assert series["00100020"] == {"vr": "LO", "Value": [world.patient.mrn]}
    assert series["00080020"] == {"vr": "DA", "Value": ["20250301"]}
    assert "00080050" not in series  # AccessionNumber was not asked for
    assert series["00081190"]["Value"][0].endswith(f"/series/{stored.series_b}")  # its own
    assert "Warning" not in response

    # includefield=all on instances: the series' and the study's attributes too.
    (instance,) = qido(
        api_member, f"/studies/{stored.study_b}/instances", includefield="all"
    ).json()
    assert instance["00080050"] == {"vr": "SH", "Value": ["ACC-2"]}  # AccessionNumber (study)
    assert instance["00100020"]["Value"] == [world.patient.mrn]
    assert instance["00201209"] == {"vr": "IS", "Value": [1]}  # series' instance count
    assert instance["00080061"]["Value"] == ["CT"]  # ModalitiesInStudy
    assert "00201206" not in instance  # study counts belong to study searches
    assert instance["00081190"]["Value"][0].endswith(instance["00080018"]["Value"][0])

    # Repeated includefield parameters add up; a study search returns all it has anyway.
    (study,) = qido(api_member, "/studies", AccessionNumber="ACC-2", includefield="all").json()
    (default,) = qido(api_member, "/studies", AccessionNumber="ACC-2").json()
    assert study == default
    response = api_member.get(
        f"{BASE}/instances?SOPInstanceUID={instance['00080018']['Value'][0]}"
        "&includefield=SeriesDescription&includefield=StudyTime",
        HTTP_ACCEPT="application/dicom+json",
    )
    (one,) = response.json()
    assert "0008103E" in one
    assert "00100020" not in one
    # An attribute that is not indexed is named in a warning, not invented.
    assert "StudyTime" in response["Warning"]
    assert "00080030" not in one


@pytest.mark.parametrize("value", ["NoSuchKeyword", "0010002", "Patient ID"])
def test_an_includefield_that_names_no_attribute_is_400(stored, api_member, value) -> None:
    response = api_member.get(f"{BASE}/studies", {"includefield": value})
    assert response.status_code == 400
    assert "includefield" in response.json()["error"]["fields"]["query"][0]


def test_a_search_writes_one_event_per_patient_returned(world, stored, api_member) -> None:
    before = AuditEvent.objects.count()
    qido(api_member, "/instances")  # 5 instances of one patient
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.patient_id, e.detail) for e in events] == [
        ("list", world.patient.pk, {"count": 5, "format": "qido"})
    ]


def test_the_integration_client_searches_its_institution_and_not_another(
    world, stored, api_integration, api_foreign_integration
) -> None:
    mine = qido(api_integration, "/studies").json()
    assert uids(mine, STUDY_UID) == {stored.study_a, stored.study_b, stored.study_c}
    before = AuditEvent.objects.count()
    qido(api_integration, "/studies")
    patients = set(AuditEvent.objects.order_by("pk")[before:].values_list("patient_id", flat=True))
    assert patients == {world.patient.pk, stored.other_patient.pk}
    assert qido(api_foreign_integration, "/studies").json() == []
    assert qido(api_foreign_integration, "/instances").json() == []


# --- WADO-RS -----------------------------------------------------------------------------


def parts_of(response) -> list[bytes]:
    """The parts of a multipart/related body, by its boundary."""
    content_type = response["Content-Type"]
    boundary = content_type.split("boundary=")[1].strip('"').encode()
    body = b"".join(response.streaming_content)
    chunks = body.split(b"--" + boundary)[1:-1]
    return [c.split(b"\r\n\r\n", 1)[1][:-2] for c in chunks]


def test_retrieve_an_instance_gives_the_stored_bytes(world, stored, api_member) -> None:
    instance = Instance.objects.filter(series__series_instance_uid=stored.series_b).get()
    url = (
        f"{BASE}/studies/{stored.study_b}/series/{stored.series_b}"
        f"/instances/{instance.sop_instance_uid}"
    )
    before = AuditEvent.objects.count()
    response = api_member.get(url, HTTP_ACCEPT='multipart/related; type="application/dicom"')
    assert response.status_code == 200
    assert response["Content-Type"].startswith('multipart/related; type="application/dicom"')
    (part,) = parts_of(response)
    assert hashlib.sha256(part).hexdigest() == instance.sha256
    with default_storage.open(instance.storage_name, "rb") as handle:
        assert part == handle.read()
    (event,) = AuditEvent.objects.order_by("pk")[before:]
    assert (event.action, event.patient_id) == ("view", world.patient.pk)
    assert event.detail == {"format": "wado", "count": 1}


def test_retrieve_a_study_and_a_series(stored, api_member) -> None:
    study = api_member.get(f"{BASE}/studies/{stored.study_a}")
    hashes = {hashlib.sha256(p).hexdigest() for p in parts_of(study)}
    assert hashes == set(
        Instance.objects.filter(series__study__study_instance_uid=stored.study_a).values_list(
            "sha256", flat=True
        )
    )
    assert len(hashes) == 4
    series = api_member.get(f"{BASE}/studies/{stored.study_a}/series/{stored.series_a2}")
    assert len(parts_of(series)) == 1
    # An Accept we cannot honour is 406, not a silent other media type.
    refused = api_member.get(
        f"{BASE}/studies/{stored.study_a}", HTTP_ACCEPT='multipart/related; type="image/jpeg"'
    )
    assert refused.status_code == 406


def test_metadata_is_dicom_json_without_pixel_data(stored, api_member) -> None:
    response = api_member.get(
        f"{BASE}/studies/{stored.study_a}/series/{stored.series_a1}/metadata",
        HTTP_ACCEPT="application/dicom+json",
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 3
    first = body[0]
    assert first[SERIES_UID]["Value"] == [stored.series_a1]
    assert first["00280010"]["Value"] == [128]
    assert "7FE00010" not in first  # pixel data is bulk data: left out
    # The JSON round-trips into a pydicom dataset.
    ds = pydicom.Dataset.from_json(first)
    assert ds.StudyInstanceUID == stored.study_a
    assert len(api_member.get(f"{BASE}/studies/{stored.study_a}/metadata").json()) == 4


def test_a_frame_of_an_uncompressed_ct_is_its_pixel_bytes(stored, api_member) -> None:
    instance = Instance.objects.filter(series__series_instance_uid=stored.series_b).get()
    url = (
        f"{BASE}/studies/{stored.study_b}/series/{stored.series_b}"
        f"/instances/{instance.sop_instance_uid}/frames/1"
    )
    response = api_member.get(url, HTTP_ACCEPT='multipart/related; type="application/octet-stream"')
    assert response.status_code == 200
    (frame,) = parts_of(response)
    with default_storage.open(instance.storage_name, "rb") as handle:
        ds = pydicom.dcmread(handle)
    assert frame == ds.PixelData
    assert len(frame) == 128 * 128 * 2
    assert api_member.get(url[:-1] + "2").status_code == 404  # CT_small has one frame


def test_outside_the_care_team_retrieve_is_404_and_search_is_empty(
    world, stored, outsider_client
) -> None:
    api = APIClient()
    api.force_authenticate(world.outsider)
    instance = Instance.objects.filter(series__series_instance_uid=stored.series_b).get()
    base = f"{BASE}/studies/{stored.study_b}"
    sop = f"{base}/series/{stored.series_b}/instances/{instance.sop_instance_uid}"
    for url in (
        base,
        f"{base}/metadata",
        f"{base}/series/{stored.series_b}",
        sop,
        f"{sop}/metadata",
        f"{sop}/frames/1",
    ):
        assert api.get(url).status_code == 404, url
    # The outsider's own team's patient is the only one found.
    assert uids(qido(api, "/studies").json(), STUDY_UID) == {stored.study_c}
    assert qido(api, f"/studies/{stored.study_b}/series").json() == []
    assert qido(api, "/instances", SOPInstanceUID=instance.sop_instance_uid).json() == []
    assert not AuditEvent.objects.filter(actor=world.outsider, patient_id=world.patient.pk).exists()
    # The browser session works the same way (the viewer's users).
    assert outsider_client.get(base).status_code == 404
    assert outsider_client.get(f"{BASE}/studies").status_code == 200


def test_anonymous_is_401(stored) -> None:
    assert APIClient().get(f"{BASE}/studies").status_code == 401
    assert APIClient().get(f"{BASE}/studies/{stored.study_a}").status_code == 401


# --- dicomweb-client against the live server ---------------------------------------------


def _client(live_server, token: str):
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.headers["Connection"] = "close"  # see test_app_stow: no keep-alive in tests
    return DICOMwebClient(
        url=f"{live_server.url}{BASE}",
        session=session,
        headers={"Authorization": f"Token {token}"},
    )


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_searches_and_retrieves_through_the_live_server(world, live_server) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.integration_token}")
    data = Stored(world, api)
    member_token = Token.objects.create(user=world.member).key
    client = _client(live_server, member_token)

    studies = client.search_for_studies(search_filters={"StudyDate": "20240101-20241231"})
    assert [s[STUDY_UID]["Value"][0] for s in studies] == [data.study_a]
    series = client.search_for_series(data.study_a, search_filters={"Modality": "CT"})
    assert [s[SERIES_UID]["Value"][0] for s in series] == [data.series_a1]
    found = client.search_for_instances(data.study_a, data.series_a1, limit=2)
    assert len(found) == 2
    # includefield through dicomweb-client's `fields`
    (b,) = client.search_for_series(
        search_filters={"SeriesInstanceUID": data.series_b}, fields=["StudyDate", "PatientID"]
    )
    assert b["00080020"]["Value"] == ["20250301"]
    assert b["00100020"]["Value"] == [world.patient.mrn]
    every = client.search_for_instances(data.study_a, data.series_a2, fields=["all"])
    assert every[0]["00080050"]["Value"] == ["ACC-1"]
    assert every[0]["0008103E"]["vr"] == "LO"

    instance = Instance.objects.filter(series__series_instance_uid=data.series_b).get()
    ds = client.retrieve_instance(data.study_b, data.series_b, instance.sop_instance_uid)
    assert ds.SOPInstanceUID == instance.sop_instance_uid
    with default_storage.open(instance.storage_name, "rb") as handle:
        stored_ds = pydicom.dcmread(handle)
    assert ds.PixelData == stored_ds.PixelData

    metadata = client.retrieve_study_metadata(data.study_a)
    assert len(metadata) == 4
    assert {m[SERIES_UID]["Value"][0] for m in metadata} == {data.series_a1, data.series_a2}

    (frame,) = client.retrieve_instance_frames(
        data.study_b, data.series_b, instance.sop_instance_uid, frame_numbers=[1]
    )
    assert frame == stored_ds.PixelData

    # A person outside the care team: nothing found, nothing retrieved.
    outsider = _client(live_server, Token.objects.create(user=world.outsider).key)
    assert outsider.search_for_studies(search_filters={"AccessionNumber": "ACC-2"}) == []
    import requests

    with pytest.raises(requests.HTTPError) as denied:
        outsider.retrieve_instance(data.study_b, data.series_b, instance.sop_instance_uid)
    assert denied.value.response.status_code == 404
    viewed = AuditEvent.objects.filter(actor=world.member, action="view")
    assert set(viewed.values_list("patient_id", flat=True)) == {world.patient.pk}


def test_frames_of_a_multiframe_instance_are_cut_at_the_frame_size(world, api_integration):
    ds = pydicom.dcmread(io.BytesIO(ct_bytes(patient_id=world.patient.mrn)))
    frame_size = ds.Rows * ds.Columns * 2
    frames = [bytes([k]) * frame_size for k in (1, 2, 3)]  # each frame one byte value
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(frames)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert stow(api_integration, [buf.getvalue()]).status_code == 200
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    url = (
        f"{BASE}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/3,1"
    )
    response = api_integration.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith('multipart/related; type="application/octet-stream"')
    assert parts_of(response) == [frames[2], frames[0]]
    assert instance.frames == 3
    assert api_integration.get(url.replace("3,1", "4")).status_code == 404
    assert api_integration.get(url.replace("3,1", "0")).status_code == 400


def test_frames_of_compressed_pixel_data_are_not_offered_yet(world, api_integration) -> None:
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))  # RLE Lossless
    ds.PatientID = world.patient.mrn
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert stow(api_integration, [buf.getvalue()]).status_code == 200
    instance_url = (
        f"{BASE}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    assert api_integration.get(f"{instance_url}/frames/1").status_code == 406
    # The instance itself is retrieved as stored, still compressed.
    (part,) = parts_of(api_integration.get(instance_url))
    assert part == buf.getvalue()
