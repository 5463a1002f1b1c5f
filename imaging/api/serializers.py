"""Serializers of the imaging API: the per-file ingest result."""

from __future__ import annotations

from rest_framework import serializers


class IngestResultSerializer(serializers.Serializer):
    filename = serializers.CharField()
    status = serializers.CharField(help_text="stored, duplicate, unmatched or rejected")
    reason = serializers.CharField(allow_blank=True)
    sop_instance_uid = serializers.CharField(allow_blank=True)
    study_public_id = serializers.UUIDField(allow_null=True)


class IngestResponseSerializer(serializers.Serializer):
    results = IngestResultSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class DicomUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(), help_text="DICOM files and/or zip archives of them."
    )
