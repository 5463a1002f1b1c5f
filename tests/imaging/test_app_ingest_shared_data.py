"""The done-when of ingest: the IBSI CT phantom and STS_001's CT (with their RTSTRUCTs) go in
through the upload page and through STOW-RS, for a patient whose MRN is the files' PatientID,
and the stored series assembles to the volume of the NIfTI shipped beside the DICOM (same
voxels, spacing and orientation; the comparison of tests/imaging/test_dicom_volume.py)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from imaging.dicom import volume_from_datasets
from imaging.models import Instance, Series, Study
from oncology.models import Patient
from tests.conftest import World
from tests.factories import PatientFactory
from tests.imaging.test_app_stow import stow
from tests.shared_data import shared_data

CASES = {
    # name: (path parts to the DICOM folder with image/ and mask/, NIfTI path parts, shape)
    "ibsi-ct-phantom": (
        ("ibsi", "ibsi_1_ct_radiomics_phantom", "dicom"),
        ("ibsi", "ibsi_1_ct_radiomics_phantom", "nifti", "image", "phantom.nii.gz"),
        (60, 201, 204),
    ),
    "sts-001-ct": (
        ("ibsi_validation_sts_001", "dicom", "STS_001", "CT"),
        ("ibsi_validation_sts_001", "nifti", "STS_001", "CT_image.nii.gz"),
        (59, 202, 198),
    ),
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _files(case: str) -> tuple[list[Path], Path, tuple[int, int, int]]:
    folder_parts, nifti_parts, shape = CASES[case]
    folder = shared_data(*folder_parts)
    files = sorted((folder / "image").glob("*.dcm")) + sorted((folder / "mask").glob("*.dcm"))
    return files, shared_data(*nifti_parts), shape


def _patient_for(world: World, first: Path) -> Patient:
    return PatientFactory(
        institution=world.institution,
        mrn=str(pydicom.dcmread(first, stop_before_pixels=True).PatientID),
        teams=[world.team],
    )


def _assert_stored_series_equals_nifti(patient: Patient, nifti_path: Path, shape) -> None:
    study = Study.objects.get(patient=patient)
    assert set(study.modalities) == {"CT", "RTSTRUCT"}
    ct = Series.objects.get(study=study, modality="CT")
    assert Series.objects.get(study=study, modality="RTSTRUCT").instance_count == 1
    instances = list(Instance.objects.filter(series=ct))
    assert ct.instance_count == len(instances) == shape[0]
    datasets = []
    for instance in instances:
        with default_storage.open(instance.storage_name, "rb") as f:
            datasets.append(pydicom.dcmread(f))
    volume = volume_from_datasets(datasets)
    assert volume.shape == shape
    nifti = nib.load(nifti_path)
    # nibabel arrays are [x, y, z] and the affine maps them to RAS; Volume is [z, y, x] in LPS.
    np.testing.assert_array_equal(volume.array, np.asarray(nifti.dataobj).T)
    np.testing.assert_allclose(volume.affine(ras=True), nifti.affine, atol=1e-4)
    np.testing.assert_allclose(volume.spacing[::-1], nifti.header.get_zooms(), atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_series_uploaded_on_the_page_assembles_to_the_shipped_nifti(
    case: str, world: World, member_client: Client
) -> None:
    files, nifti_path, shape = _files(case)
    patient = _patient_for(world, files[0])
    response = member_client.post(
        reverse("imaging:ingest-upload", kwargs={"public_id": patient.public_id}),
        {"files": [SimpleUploadedFile(p.name, p.read_bytes()) for p in files]},
    )
    assert response.status_code == 200
    assert {r.status for r in response.context["results"]} == {"stored"}
    _assert_stored_series_equals_nifti(patient, nifti_path, shape)


@pytest.mark.parametrize("case", sorted(CASES))
def test_series_sent_by_stow_rs_assembles_to_the_shipped_nifti(
    case: str, world: World, api_integration: APIClient
) -> None:
    files, nifti_path, shape = _files(case)
    patient = _patient_for(world, files[0])
    response = stow(api_integration, [p.read_bytes() for p in files])
    assert response.status_code == 200, response.content[:500]
    assert len(response.json()["00081199"]["Value"]) == len(files)
    _assert_stored_series_equals_nifti(patient, nifti_path, shape)
