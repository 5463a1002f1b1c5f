"""A signed board decision is immutable in the database itself, not only in the services."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from oncology.models import BoardCase, BoardDecision, Meeting


@pytest.fixture
def decision(world):
    meeting = Meeting.objects.create(
        institution=world.institution, title="Thoracic board", scheduled_for=timezone.now()
    )
    case = BoardCase.objects.create(
        meeting=meeting, patient=world.patient, question="Surgery or chemoradiotherapy?"
    )
    return BoardDecision.objects.create(
        case=case, version=1, chosen_option="surgery", plan="Lobectomy", rationale="Fit, stage II"
    )


def _sign(decision, user):
    decision.status = "signed"
    decision.signed_by = user
    decision.signed_at = timezone.now()
    decision.save()


@pytest.mark.django_db(transaction=True)
def test_draft_edits_then_signed_row_refuses_update_and_delete(decision, world):
    decision.rationale = "Fit, stage IIB, FEV1 78%"
    decision.save()  # a draft may change
    _sign(decision, world.oncologist)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        BoardDecision.objects.filter(pk=decision.pk).update(rationale="rewritten")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        BoardDecision.objects.filter(pk=decision.pk).delete()
    assert BoardDecision.objects.get(pk=decision.pk).rationale == "Fit, stage IIB, FEV1 78%"


@pytest.mark.django_db
def test_signed_row_needs_a_signer(decision):
    decision.status = "signed"
    with pytest.raises(DatabaseError), transaction.atomic():
        decision.save()
