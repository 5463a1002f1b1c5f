import pytest
from django.db import DatabaseError, transaction

from core.audit import audit_record
from core.models import AuditEvent


@pytest.mark.django_db(transaction=True)
def test_audit_events_cannot_be_updated_or_deleted() -> None:
    event = audit_record(actor=None, action="view", object_type="patient", object_id=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="list")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "view"


@pytest.mark.django_db
def test_audit_detail_refuses_keys_that_could_carry_values() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        audit_record(actor=None, action="view", object_type="patient", detail={"name": "Smith"})
