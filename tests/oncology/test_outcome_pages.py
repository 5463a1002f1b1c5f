"""The outcome-model registry pages: list, one version's page with its card, metrics, figure
and provenance, the audited status change and who may make it, and the closed loop
(calibration of past predictions) with its access, audit and small-group rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Role
from oncology.figures_outcomes import PLOTLY_MAPLIBRE_STYLE_ID
from oncology.models import (
    BoardCase,
    BoardDecision,
    FollowUp,
    Meeting,
    OutcomeModel,
    Prediction,
    Surgery,
    SystemicTherapy,
)
from oncology.services.outcome_models import outcome_model_set_status, outcome_model_train
from tests.conftest import World
from tests.factories import InstitutionFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

# 800 simulated patients: the smallest seed-0 cohort whose every option has >= 30 patients.
TINY = {"patients": 800, "splits": 1, "seed": 0}
ORIGIN = dt.date(2020, 1, 15)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def trained() -> OutcomeModel:
    return outcome_model_train(source="simulated", kind="cox", name="sim-cox", **TINY)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _detail(model: OutcomeModel) -> str:
    return reverse("outcome_models:detail", kwargs={"name": model.name, "version": model.version})


def _status_url(model: OutcomeModel) -> str:
    return reverse("outcome_models:status", kwargs={"name": model.name, "version": model.version})


def _scripts_are_external_or_data(html: str) -> None:
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "style=" not in html


# --- list and detail ---------------------------------------------------------------------------


def test_the_list_shows_every_version_with_status_kind_source_and_metrics(
    world: World, trained: OutcomeModel
) -> None:
    second = outcome_model_train(source="simulated", kind="cox", name="sim-cox", **TINY)
    outcome_model_set_status(model=second, status="validated")
    page = _client(world.outsider).get(reverse("outcome_models:list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/outcome-models/"' in html  # the nav link
    rows = re.findall(r'<tr data-model="sim-cox" data-version="(\d)">(.*?)</tr>', html, re.S)
    assert [v for v, _ in rows] == ["2", "1"]
    assert "Validated" in rows[0][1]
    assert "Draft" in rows[1][1]
    assert "Cox proportional hazards" in rows[1][1]
    assert "simulated" in rows[1][1]
    assert f"{trained.metrics['mean']['harrell_c']:.3f}" in rows[1][1]
    assert "2 versions" in html


def test_the_detail_page_renders_every_card_field_metrics_features_and_provenance(
    world: World, trained: OutcomeModel
) -> None:
    page = _client(world.member).get(_detail(trained))
    assert page.status_code == 200
    html = page.content.decode()
    for key in trained.model_card:
        assert f'data-card="{key}"' in html, key
    card = html.split('id="model-card"')[1].split("</section>")[0]
    for key, value in trained.model_card.items():
        if isinstance(value, str):  # a paragraph of its own, in words
            assert f'<p data-card="{key}">{value}</p>'.replace("'", "&#x27;") in card, key
    assert "(&#x27;" not in card  # no Python tuples or dicts leak into the page
    for limit in trained.model_card["limits"]:
        assert limit.replace("'", "&#x27;") in html
    assert str(trained.model_card["cohort"]["patients"]) in html
    for key in trained.metrics["mean"]:
        assert f'data-metric="{key}"' in html
    assert "How often did the one who died first get the higher predicted risk" in html.replace(
        "Take two patients: how", "How"
    )
    for feature in trained.feature_spec:
        assert f'<th scope="row" class="mono">{feature["name"]}</th>' in html
    assert trained.training_data_sha256 in html
    assert trained.artifact_sha256 in html
    for package, version in trained.training_params["libraries"].items():
        assert package in html
        assert version in html
    figure = json.loads(
        re.search(
            r'<script id="training-calibration-figure" type="application/json">(.*?)</script>',
            html,
            re.S,
        ).group(1)  # type: ignore[union-attr]
    )
    point = trained.calibration[0]
    assert figure["data"][1]["x"] == [pytest.approx(point["mean_predicted_survival"])]
    assert figure["data"][1]["y"] == [pytest.approx(point["kaplan_meier_survival"])]
    assert "vendor/plotly.min.js" in html
    assert "js/model-calibration.js" in html
    _scripts_are_external_or_data(html)


def _create_version(name: str, version: int) -> OutcomeModel:
    return OutcomeModel.objects.create(
        name=name,
        version=version,
        kind="cox",
        time_unit="months",
        training_source="simulated",
        training_data_sha256="0" * 64,
        artifact_sha256="0" * 64,
    )


def test_the_list_costs_the_same_queries_for_one_version_or_ten(
    world: World, django_assert_max_num_queries: Any
) -> None:
    client = _client(world.member)
    _create_version("a", 1)
    client.get(reverse("outcome_models:list"))  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("outcome_models:list"))
    for i in range(2, 11):
        _create_version("b" if i % 2 else "a", i)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(reverse("outcome_models:list"))
    assert page.content.decode().count("<tr data-model=") == 10


def test_an_unknown_version_is_404(world: World, trained: OutcomeModel) -> None:
    url = reverse("outcome_models:detail", kwargs={"name": "sim-cox", "version": 9})
    assert _client(world.member).get(url).status_code == 404


def test_integration_clients_and_anonymous_users_do_not_get_the_pages(
    world: World, trained: OutcomeModel
) -> None:
    assert _client(world.integration).get(_detail(trained)).status_code == 403
    assert Client().get(_detail(trained)).status_code == 302


def test_the_maplibre_marker_id_is_the_one_the_pinned_plotly_bundle_looks_for() -> None:
    # The bundle injects maplibre's CSS (refused by the CSP) unless this id is on the page.
    import plotly

    bundle = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    assert f'getElementById("{PLOTLY_MAPLIBRE_STYLE_ID}")' in bundle
    # ...and the one include every plotted page uses carries it.
    include = Path(__file__).resolve().parents[2] / "templates" / "_plotly.html"
    assert f'id="{PLOTLY_MAPLIBRE_STYLE_ID}"' in include.read_text()


# --- status change -----------------------------------------------------------------------------


def test_an_oncologist_validates_then_activates_and_each_change_is_audited(
    world: World, trained: OutcomeModel
) -> None:
    client = _client(world.oncologist)
    page = client.get(_detail(trained)).content.decode()
    assert 'name="status"' in page
    assert 'value="validated"' in page
    assert 'value="active"' not in page  # draft may not jump to active
    response = client.post(_status_url(trained), {"status": "validated"})
    assert response.status_code == 302
    trained.refresh_from_db()
    assert trained.status == "validated"
    client.post(_status_url(trained), {"status": "active"})
    trained.refresh_from_db()
    assert trained.status == "active"
    events = AuditEvent.objects.filter(object_type="outcome_model", action="update")
    assert [e.detail["result"] for e in events.order_by("pk")] == [
        "draft -> validated",
        "validated -> active",
    ]
    assert {e.actor_id for e in events} == {world.oncologist.pk}


def test_activating_a_version_retires_the_active_one_and_audits_both(
    world: World, trained: OutcomeModel
) -> None:
    outcome_model_set_status(model=trained, status="validated")
    outcome_model_set_status(model=trained, status="active")
    newer = outcome_model_train(source="simulated", kind="cox", name="sim-cox", **TINY)
    outcome_model_set_status(model=newer, status="validated")
    manager = UserFactory(role=Role.DATA_MANAGER, institution=world.institution)
    _client(manager).post(_status_url(newer), {"status": "active"})
    trained.refresh_from_db()
    newer.refresh_from_db()
    assert (trained.status, newer.status) == ("retired", "active")
    events = {
        e.object_id: e.detail["result"]
        for e in AuditEvent.objects.filter(object_type="outcome_model")
    }
    assert events == {
        str(newer.public_id): "validated -> active",
        str(trained.public_id): "active -> retired",
    }


def test_a_disallowed_transition_is_refused_and_changes_nothing(
    world: World, trained: OutcomeModel
) -> None:
    client = _client(world.oncologist)
    response = client.post(_status_url(trained), {"status": "active"}, follow=True)
    assert "allowed: validated, retired" in response.content.decode()
    trained.refresh_from_db()
    assert trained.status == "draft"
    assert not AuditEvent.objects.filter(object_type="outcome_model").exists()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ADMINISTRATOR])
def test_clinicians_and_administrators_may_not_change_a_status(
    world: World, trained: OutcomeModel, role: str
) -> None:
    user = UserFactory(role=role, institution=world.institution)
    client = _client(user)
    assert 'name="status"' not in client.get(_detail(trained)).content.decode()
    assert client.post(_status_url(trained), {"status": "validated"}).status_code == 403
    trained.refresh_from_db()
    assert trained.status == "draft"


def test_the_status_change_needs_a_csrf_token(world: World, trained: OutcomeModel) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.oncologist)
    assert client.post(_status_url(trained), {"status": "validated"}).status_code == 403
    trained.refresh_from_db()
    assert trained.status == "draft"


# --- closed loop -------------------------------------------------------------------------------

# The hand-computed case of tests/outcomes/test_closed_loop.py, in days from the prediction:
# low group (predicted 1-year survival 50-59 %): deaths at 183, 292 and 548 days, one last seen
# at 438 days, six at 1096 days; high group (90-99 %): a death at 110 days, nine seen at 913.
LOW = [(183, True), (292, True), (438, False), (548, True)] + [(1096, False)] * 6
HIGH = [(110, True)] + [(913, False)] * 9
OPTIONS = ["surgery", "chemotherapy", "surgery+chemotherapy"]


def _plain_model() -> OutcomeModel:
    return OutcomeModel.objects.create(
        name="loop",
        version=1,
        kind="cox",
        time_unit="months",
        training_source="simulated",
        options=OPTIONS,
        training_data_sha256="0" * 64,
        artifact_sha256="0" * 64,
    )


def _output(survival_1y: dict[str, float], *, abstained: bool = False) -> dict[str, Any]:
    return {
        "abstained": abstained,
        "options": []
        if abstained
        else [
            {
                "option": o,
                "survival_1y": s,
                "survival_2y": s - 0.05,
                "survival_5y": s - 0.2,
            }
            for o, s in survival_1y.items()
        ],
    }


def _past_patient(
    world: World,
    model: OutcomeModel,
    *,
    days: int,
    died: bool,
    surgery_1y: float,
    institution: Any = None,
    abstained: bool = False,
) -> tuple[Any, Prediction]:
    patient = PatientFactory(institution=institution or world.institution, teams=[world.team])
    end = ORIGIN + dt.timedelta(days=days)
    if died:
        patient.death_date = end
        patient.vital_status = "dead"
    else:
        patient.last_contact_date = end - dt.timedelta(days=30)
        FollowUp.objects.create(patient=patient, visit_date=end, disease_status="ned")
    patient.save()
    Surgery.objects.create(
        patient=patient, procedure="Lobectomy", performed_on=ORIGIN + dt.timedelta(days=20)
    )
    prediction = Prediction.objects.create(
        patient=patient,
        model=model,
        inputs_sha256="0" * 64,
        output=_output(
            {"surgery": surgery_1y, "chemotherapy": 0.3, "surgery+chemotherapy": 0.99},
            abstained=abstained,
        ),
    )
    created = timezone.make_aware(dt.datetime.combine(ORIGIN, dt.time(9)))
    Prediction.objects.filter(pk=prediction.pk).update(created_at=created)
    return patient, prediction


def _hand_case(world: World, model: OutcomeModel) -> None:
    for i, (days, died) in enumerate(LOW):
        _past_patient(world, model, days=days, died=died, surgery_1y=0.50 + i / 100)
    for i, (days, died) in enumerate(HIGH):
        _past_patient(world, model, days=days, died=died, surgery_1y=0.90 + i / 100)


def _groups(html: str, years: str) -> list[list[str]]:
    table = re.search(
        rf'<table class="data compact" data-horizon="{years}">(.*?)</table>', html, re.S
    )
    assert table, years
    body = table.group(1).split("<tbody>")[1]
    return [
        [
            re.sub(r"<[^>]+>", " ", c).split()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]  # type: ignore[misc]


def test_the_closed_loop_shows_the_hand_computed_groups_and_audits_one_list(
    world: World,
) -> None:
    model = _plain_model()
    _hand_case(world, model)
    # Left out: an abstained prediction, another institution's patient, a later duplicate.
    _past_patient(world, model, days=50, died=True, surgery_1y=0.5, abstained=True)
    _past_patient(
        world, model, days=50, died=True, surgery_1y=0.5, institution=InstitutionFactory()
    )
    page = _client(world.outsider).get(_detail(model))
    html = page.content.decode()
    one_year = _groups(html, "1.0")
    assert [row[2] for row in one_year] == [["10"], ["10"]]  # patients a group
    assert one_year[0][3] == ["55%"]
    assert one_year[0][4][:1] == ["80%"]
    assert one_year[0][4][1:] == ["41%", "to", "95%"]  # Greenwood log(-log) 95 % CI
    assert one_year[1][3] == ["94%"]
    assert one_year[1][4][:1] == ["90%"]
    two_years = _groups(html, "2.0")
    assert "not followed long enough yet" in " ".join(two_years[0][4])
    assert two_years[1][4][:1] == ["90%"]
    assert 'data-status="follow_up"' in html  # five years: nobody followed that long
    assert "the recorded treatment for 20" in html
    events = AuditEvent.objects.filter(object_type="outcome_model_calibration")
    assert events.count() == 1
    event = events.get()
    assert (event.action, event.detail, event.institution_id) == (
        "list",
        {"count": 20},
        world.institution.pk,
    )
    assert event.object_id == str(model.public_id)
    figure = json.loads(
        re.search(
            r'<script id="closed-loop-figure" type="application/json">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert figure["data"][1]["y"] == [pytest.approx(0.8), pytest.approx(0.9)]
    _scripts_are_external_or_data(html)
    for patient_name in ("Family", "MRN"):
        assert patient_name not in html


def test_the_board_decision_wins_over_the_recorded_treatment(world: World) -> None:
    model = _plain_model()
    _hand_case(world, model)
    patient, prediction = _past_patient(world, model, days=2000, died=False, surgery_1y=0.6)
    meeting = Meeting.objects.create(
        institution=world.institution, title="Board", scheduled_for=timezone.now()
    )
    case = BoardCase.objects.create(meeting=meeting, patient=patient, question="Adjuvant?")
    BoardDecision.objects.create(
        case=case,
        version=1,
        status="signed",
        chosen_option="chemotherapy",
        plan="Chemotherapy",
        rationale="r",
        prediction=prediction,
        signed_by=world.oncologist,
        signed_at=timezone.now(),
    )
    html = _client(world.member).get(_detail(model)).content.decode()
    assert "the board&#x27;s signed decision for 1" in html or "signed decision for 1" in html
    assert "the recorded treatment for 20" in html
    # Its prediction for chemotherapy (30 %), not for the recorded surgery (60 %), joins the
    # lowest group at one year: 21 patients make groups of 11 and 10.
    lowest = _groups(html, "1.0")[0]
    assert lowest[2] == ["11"]
    assert lowest[1] == ["30%", "to", "59%"]


def test_the_closed_loop_costs_the_same_queries_for_20_patients_or_40(world: World) -> None:
    model = _plain_model()
    client = _client(world.member)
    _hand_case(world, model)
    client.get(_detail(model))
    with CaptureQueriesContext(connection) as twenty:
        client.get(_detail(model))
    _hand_case(world, model)
    with CaptureQueriesContext(connection) as forty:
        html = client.get(_detail(model)).content.decode()
    assert "the recorded treatment for 40" in html
    assert len(forty.captured_queries) == len(twenty.captured_queries)


def test_under_ten_patients_the_closed_loop_shows_nothing(world: World) -> None:
    model = _plain_model()
    for days, died in LOW[:9]:
        _past_patient(world, model, days=days, died=died, surgery_1y=0.6)
    html = _client(world.member).get(_detail(model)).content.decode()
    assert html.count('data-status="too_few"') == 3
    assert "closed-loop-figure" not in html
    assert 'data-horizon="1.0"' not in html


def test_a_patient_treated_with_what_the_model_does_not_compare_is_left_out(
    world: World,
) -> None:
    model = _plain_model()
    _hand_case(world, model)
    patient, _ = _past_patient(world, model, days=400, died=True, surgery_1y=0.7)
    SystemicTherapy.objects.create(
        patient=patient,
        regimen="Letrozole",
        category="hormonal",
        start_date=ORIGIN + dt.timedelta(days=40),
    )
    html = _client(world.member).get(_detail(model)).content.decode()
    assert "1 whose treatment is none of the model" in html
    assert "the recorded treatment for 20" in html


def test_administrators_see_no_closed_loop_and_leave_no_event(world: World) -> None:
    model = _plain_model()
    _hand_case(world, model)
    admin = UserFactory(role=Role.ADMINISTRATOR, institution=world.institution)
    html = _client(admin).get(_detail(model)).content.decode()
    assert "shown to clinicians, oncologists and data managers" in html
    assert 'data-horizon="1.0"' not in html
    assert not AuditEvent.objects.filter(object_type="outcome_model_calibration").exists()
