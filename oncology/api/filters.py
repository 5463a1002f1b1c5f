"""Query filters of the patient list.

There is deliberately no name or MRN filter: query strings end up in proxy and server access
logs, so identifying values travel only in request bodies (POST /api/v1/patients/lookup/)."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from oncology.clinical.icdo3 import TOPOGRAPHY, SiteGroup, site_group
from oncology.models import Diagnosis, Patient, VitalStatus

SITE_GROUP_CODES: dict[str, list[str]] = {
    group: sorted(code for code in TOPOGRAPHY if site_group(code) == group)
    for group in get_args(SiteGroup)
}


class PatientFilter(django_filters.FilterSet):
    vital_status = django_filters.ChoiceFilter(choices=VitalStatus.choices)
    primary_site = django_filters.CharFilter(
        method="_with_primary_site",
        max_length=6,
        help_text=(
            "ICD-O-3 topography of any diagnosis, or its site group as a prefix: "
            "C34 (lung) matches C34.0 to C34.9."
        ),
    )
    site_group = django_filters.ChoiceFilter(
        choices=[(group, group) for group in SITE_GROUP_CODES],
        method="_in_site_group",
        help_text="Tumour site group of any diagnosis, as oncology.clinical.icdo3 defines it.",
    )
    updated_since = django_filters.IsoDateTimeFilter(
        method="_changed_since",
        help_text="ISO 8601 date-time; patients whose record changed at or after it.",
    )

    class Meta:
        model = Patient
        fields: list[str] = []

    def _changed_since(
        self, queryset: QuerySet[Patient], name: str, value: dt.datetime
    ) -> QuerySet[Patient]:
        # ISO 8601 allows offsets up to +-23:59, PostgreSQL only +-15:59: compare in UTC. A
        # moment before year 1 or after 9999 in UTC is before or after every record.
        try:
            since = value.astimezone(dt.UTC)
        except OverflowError:
            offset = value.utcoffset() or dt.timedelta(0)
            if offset > dt.timedelta(0):
                return queryset
            return queryset.none()
        return queryset.filter(updated_at__gte=since)

    def _with_primary_site(
        self, queryset: QuerySet[Patient], name: str, value: str
    ) -> QuerySet[Patient]:
        # EXISTS rather than a join, so a patient with two matching tumours is listed once.
        site = Diagnosis.objects.filter(
            patient_id=OuterRef("pk"), primary_site__istartswith=value.strip()
        )
        return queryset.filter(Exists(site))

    def _in_site_group(
        self, queryset: QuerySet[Patient], name: str, value: str
    ) -> QuerySet[Patient]:
        codes = SITE_GROUP_CODES[value]
        return queryset.filter(
            Exists(Diagnosis.objects.filter(patient_id=OuterRef("pk"), primary_site__in=codes))
        )
