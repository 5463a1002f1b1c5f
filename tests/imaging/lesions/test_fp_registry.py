"""The false-positive model in the registry: stored as a draft with its validation report and
card, the status life cycle, the site's active model for the screening service, probabilities
for candidate centres on a Volume, a changed artifact refused, too few findings refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage

from core.models import AuditEvent
from imaging.dicom import Volume
from imaging.lesions import fp_cnn
from imaging.lesions.patches import extract_patches
from imaging.lesions.synthetic import synthetic_patches
from imaging.models import LesionModel
from imaging.services import lesion_models as svc
from tests.conftest import World
from tests.factories import InstitutionFactory


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _register(world: World, name: str = "nodule-fp-north") -> LesionModel:
    data = synthetic_patches(60, seed=11)
    return svc.fp_model_register(
        data.patches,
        data.labels,
        name=name,
        institution=world.institution,
        source="synthetic (seed 11)",
        epochs=2,
        min_per_class=5,
        actor=world.oncologist,
    )


def test_register_stores_a_draft_with_report_and_card(world: World) -> None:
    model = _register(world)
    assert (model.version, model.status, model.kind) == (1, "draft", "nodule_fp")
    assert model.algorithm == "torch-cnn3d"
    assert model.institution == world.institution
    report = model.metrics["validation"]
    assert report["n"] == 12
    assert report["train"] == 48
    assert 0.0 <= report["auc"] <= 1.0
    assert "SYNTHETIC" in " ".join(model.model_card["limits"])
    assert model.model_card["intended_use"].startswith("Ranking of lung-nodule candidates")
    assert AuditEvent.objects.filter(object_type="lesion_model", action="create").count() == 1
    assert _register(world).version == 2


def test_active_fp_model_is_the_sites_active_version(world: World) -> None:
    assert svc.active_fp_model(world.institution) is None
    model = _register(world)
    assert svc.active_fp_model(world.institution) is None  # a draft is not used
    svc.lesion_model_set_status(model=model, status="validated")
    svc.lesion_model_set_status(model=model, status="active", actor=world.oncologist)
    assert svc.active_fp_model(world.institution) == model
    assert svc.active_fp_model(InstitutionFactory(code="east")) is None
    second = _register(world)
    svc.lesion_model_set_status(model=second, status="validated")
    svc.lesion_model_set_status(model=second, status="active")
    model.refresh_from_db()
    assert model.status == "retired"
    assert svc.active_fp_model(world.institution) == second
    svc.lesion_model_set_status(model=second, status="retired")
    assert svc.active_fp_model(world.institution) is None


def test_transitions_outside_the_life_cycle_are_refused(world: World) -> None:
    model = _register(world)
    with pytest.raises(svc.LesionModelError, match=r"draft: it cannot become active \(allowed"):
        svc.lesion_model_set_status(model=model, status="active")
    with pytest.raises(svc.LesionModelError, match="Unknown status"):
        svc.lesion_model_set_status(model=model, status="gone")
    svc.lesion_model_set_status(model=model, status="retired")
    with pytest.raises(svc.LesionModelError, match="allowed: none"):
        svc.lesion_model_set_status(model=model, status="validated")
    model.refresh_from_db()
    assert model.status == "retired"


def test_probabilities_for_centres_on_a_volume(world: World) -> None:
    model = _register(world)
    # an anisotropic CT: lung background, a 6 mm-radius solid sphere and a vessel
    hu = np.full((30, 64, 64), -850.0, dtype=np.float32)
    z, y, x = np.meshgrid(
        np.arange(30) * 2.0, np.arange(64) * 0.8, np.arange(64) * 0.8, indexing="ij"
    )
    hu[(z - 30) ** 2 + (y - 16) ** 2 + (x - 16) ** 2 <= 36] = 30.0
    hu[(y - 38) ** 2 + (x - 38) ** 2 <= 4] = 40.0
    volume = Volume(array=hu, spacing=(2.0, 0.8, 0.8), origin=(0.0, 0.0, 0.0))
    centres = [[15, 20, 20], [15, 47.5, 47.5]]
    probabilities = svc.fp_model_probabilities(model, volume, centres)
    # the same patches cut here and fed to the network read back from the stored file
    with default_storage.open(model.artifact.name, "rb") as handle:
        network = fp_cnn.FpNetwork.from_bytes(handle.read())
    expected = network.predict(extract_patches(hu, (2.0, 0.8, 0.8), centres))
    assert probabilities == pytest.approx(list(expected), abs=1e-6)
    assert svc.fp_model_probabilities(model, volume, []) == []
    with pytest.raises(svc.LesionModelError, match="three numbers"):
        svc.fp_model_probabilities(model, volume, [[1, 2]])


def test_a_changed_artifact_is_refused(world: World) -> None:
    model = _register(world)
    path = Path(default_storage.path(model.artifact.name))
    path.write_bytes(path.read_bytes() + b"x")
    svc._NETWORKS.clear()
    with pytest.raises(svc.ArtifactIntegrityError, match="does not match the sha256"):
        svc.fp_model_probabilities(model, Volume(np.zeros((4, 4, 4)), (1, 1, 1), (0, 0, 0)), [])


def test_site_training_needs_enough_reviewed_findings(world: World) -> None:
    with pytest.raises(svc.LesionModelError, match="0 confirmed and 0 rejected findings"):
        svc.fp_model_train_site(institution=world.institution)
    assert not LesionModel.objects.exists()


def test_bad_names_and_too_few_patches_store_nothing(world: World) -> None:
    data = synthetic_patches(60, seed=11)
    with pytest.raises(svc.LesionModelError, match="1-80 letters"):
        svc.fp_model_register(
            data.patches,
            data.labels,
            name="bad name",
            institution=None,
            source="synthetic",
            epochs=1,
            min_per_class=5,
        )
    with pytest.raises(svc.LesionModelError, match="at least 20 nodules"):
        svc.fp_model_register(
            data.patches[:20],
            data.labels[:20],
            name="fp",
            institution=None,
            source="synthetic",
            epochs=1,
        )
    assert not LesionModel.objects.exists()
