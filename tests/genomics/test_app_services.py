"""genomics.services: preview writes nothing; create is atomic, idempotent and audited once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from core.models import AuditAction, AuditEvent
from genomics import services
from genomics.models import (
    Actionability,
    CopyNumberCall,
    FusionCall,
    GenomicReport,
    Variant,
)
from oncology.models import Diagnosis
from tests.conftest import World
from tests.genomics import app_data

GENOMICS_TABLES = (GenomicReport, Variant, CopyNumberCall, FusionCall, Actionability)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def nothing_stored(settings) -> bool:
    return all(not model.objects.exists() for model in GENOMICS_TABLES) and not stored_files(
        settings
    )


def meta(**overrides) -> services.ReportMetadata:
    return services.ReportMetadata(**app_data.metadata_values(**overrides))


def vcf_source(data: bytes | None = None) -> services.ReportSource:
    return services.ReportSource(format="vcf", data=data or app_data.vcf(), filename="run.vcf")


def test_a_clean_vcf_is_stored_with_its_rows_its_file_and_one_create_event(world: World, settings):
    saved = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    )
    report = saved.report
    assert saved.created
    assert report.variants.count() == 4
    egfr = report.variants.get(gene="EGFR")
    assert (egfr.chrom, egfr.pos, egfr.ref, egfr.alt) == ("7", 55191822, "T", "G")
    assert egfr.hgvs_p == "p.Leu858Arg"
    assert egfr.vaf == pytest.approx(0.25)
    assert report.variants.get(gene="BRCA2").filter == "weak_evidence"
    assert report.genome_build == "GRCh38"  # from the header
    assert report.source_format == "vcf"
    assert len(report.source_sha256) == 64
    # The stored file is the upload, under an opaque name.
    assert report.source_file.startswith("genomics/")
    assert "run" not in report.source_file
    with default_storage.open(report.source_file, "rb") as fh:
        assert fh.read() == app_data.vcf()
    events = list(AuditEvent.objects.all())
    assert [(e.action, e.object_type) for e in events] == [("create", "genomic_report")]
    assert events[0].patient_id == world.patient.pk
    assert events[0].object_id == str(report.public_id)


def test_tmb_counts_non_synonymous_variants_per_covered_megabase(world: World):
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    ).report
    # Coding, non-synonymous and passing filters: EGFR L858R and KRAS G12C (TP53 is
    # synonymous, BRCA2 is filtered out). 2 mutations / 1.2 Mb.
    assert report.tmb == pytest.approx(2 / 1.2, abs=0.01)
    assert report.tmb_high is False


def test_actionable_alterations_are_stored_with_their_knowledge_base_version(world: World):
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    ).report
    assert report.kb_version
    assert report.tumour_type == "LUAD"
    actionable = {row.kb_entry_id: row for row in report.actionability.exclude(level="")}
    # EGFR L858R and KRAS G12C are listed for NSCLC, which a LUAD falls under.
    assert set(actionable) == {"EGFR-L858R-NSCLC", "KRAS-G12C-NSCLC"}
    egfr = actionable["EGFR-L858R-NSCLC"]
    assert egfr.tumour_type_matched == "NSCLC"
    assert "osimertinib" in egfr.drugs
    assert {row.kb_version for row in report.actionability.all()} == {report.kb_version}


def test_matches_in_other_tumour_types_and_filtered_variants_carry_no_level(world: World):
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    ).report
    colorectal = report.actionability.get(kb_entry_id="KRAS-G12C-COADREAD")
    assert (colorectal.level, colorectal.drugs, colorectal.tumour_type_matched) == ("", [], "")
    assert colorectal.entry_level == "1"
    brca2 = report.actionability.filter(gene="BRCA2")
    assert brca2.exists()
    assert all(row.filtered and not row.level for row in brca2)


def test_a_malformed_vcf_is_refused_with_its_line_and_stores_nothing(world: World, settings):
    data, line = app_data.vcf_with_bad_depth()
    with pytest.raises(ValidationError) as caught:
        services.genomic_report_create(
            user=world.member, patient=world.patient, source=vcf_source(data), metadata=meta()
        )
    (message,) = caught.value.message_dict["source"]
    assert message.startswith(f"line {line}: ")
    assert "DP" in message
    assert nothing_stored(settings)
    assert not AuditEvent.objects.exists()


def test_a_failure_while_writing_rows_leaves_no_row_and_no_file(
    world: World, settings, monkeypatch
):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Actionability.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        services.genomic_report_create(
            user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
        )
    assert nothing_stored(settings)


def test_a_failure_after_the_file_is_saved_deletes_the_file(world: World, settings, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit_record", fail)
    with pytest.raises(RuntimeError):
        services.genomic_report_create(
            user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
        )
    assert nothing_stored(settings)


def test_uploading_the_same_file_again_returns_the_stored_report(world: World, settings):
    first = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    )
    again = services.genomic_report_create(
        user=world.oncologist, patient=world.patient, source=vcf_source(), metadata=meta()
    )
    assert not again.created
    assert again.report.pk == first.report.pk
    assert GenomicReport.objects.count() == 1
    assert Variant.objects.count() == 4
    assert len(stored_files(settings)) == 1
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.CREATE, AuditAction.SYNC_UNCHANGED]


def test_the_same_external_id_with_other_content_is_a_conflict(world: World):
    services.genomic_report_create(
        user=world.member,
        patient=world.patient,
        source=vcf_source(),
        metadata=meta(external_id="A1"),
    )
    other = app_data.vcf(app_data.RECORDS[:2])
    with pytest.raises(services.GenomicReportConflict):
        services.genomic_report_create(
            user=world.member,
            patient=world.patient,
            source=vcf_source(other),
            metadata=meta(external_id="A1"),
        )
    assert GenomicReport.objects.count() == 1


def test_preview_parses_and_annotates_but_writes_nothing(world: World, settings):
    preview = services.genomic_report_preview(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    )
    assert preview.ok
    assert preview.counts == {"variants": 4, "copy_numbers": 0, "fusions": 0}
    assert preview.result is not None
    assert {f.gene for f in preview.result.findings} >= {"EGFR", "KRAS"}
    assert nothing_stored(settings)
    assert not AuditEvent.objects.exists()


def test_preview_of_a_malformed_file_names_the_line(world: World):
    data, line = app_data.vcf_with_bad_depth()
    preview = services.genomic_report_preview(
        user=world.member, patient=world.patient, source=vcf_source(data), metadata=meta()
    )
    assert not preview.ok
    assert [p.line for p in preview.problems] == [line]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("collection_date", dt.date(1950, 1, 1), "before the date of birth"),
        ("collection_date", dt.date(2999, 1, 1), "in the future"),
        ("covered_mb", 0.0, "above 0"),
        ("covered_mb", float("nan"), "above 0"),
        ("specimen_type", "saliva", "Unknown specimen type"),
        ("genes", ("EGFR", "not a gene!"), "HGNC"),
        ("tumour_type", "lung", "OncoTree"),
    ],
)
def test_invalid_metadata_is_refused_by_field(world: World, settings, field, value, expected):
    with pytest.raises(ValidationError) as caught:
        services.genomic_report_create(
            user=world.member,
            patient=world.patient,
            source=vcf_source(),
            metadata=meta(**{field: value}),
        )
    assert any(expected in m for m in caught.value.message_dict[field])
    assert nothing_stored(settings)


def test_a_collection_date_after_death_is_refused(world: World):
    world.patient.vital_status = "dead"
    world.patient.death_date = dt.date(2021, 1, 1)
    world.patient.save()
    with pytest.raises(ValidationError) as caught:
        services.genomic_report_create(
            user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
        )
    assert (
        "collection date is after the date of death" in caught.value.message_dict["collection_date"]
    )


def test_a_diagnosis_of_another_patient_is_refused(world: World):
    from tests.factories import DiagnosisFactory, PatientFactory

    stranger = DiagnosisFactory(patient=PatientFactory(institution=world.institution))
    with pytest.raises(ValidationError) as caught:
        services.genomic_report_create(
            user=world.member,
            patient=world.patient,
            source=vcf_source(),
            metadata=meta(diagnosis=stranger),
        )
    assert "diagnosis" in caught.value.message_dict


def test_the_tumour_type_comes_from_the_diagnosis_when_not_given(world: World):
    Diagnosis.objects.filter(patient=world.patient).update(
        primary_site="C34.1", morphology="8140/3"
    )
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta(tumour_type="")
    ).report
    # ICD-O-3 C34 (lung) with 8140/3 (adenocarcinoma) is OncoTree LUAD.
    assert report.tumour_type == "LUAD"


def test_a_file_over_the_size_cap_is_refused_before_parsing(world: World, settings):
    settings.GENOMICS_MAX_UPLOAD_BYTES = 100
    with pytest.raises(ValidationError) as caught:
        services.genomic_report_create(
            user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
        )
    assert "larger than" in caught.value.message_dict["source"][0]
    assert nothing_stored(settings)


def test_staged_uploads_are_read_back_only_unchanged_and_purged_after_a_day(world: World, settings):
    import os
    import time

    name = services.genomic_upload_stage(data=b"abc")
    sha = services.ReportSource(format="vcf", data=b"abc").sha256
    assert services.genomic_upload_read(name=name, sha256=sha) == b"abc"
    assert services.genomic_upload_read(name=name, sha256="0" * 64) is None
    assert services.genomic_upload_read(name="genomics/../secret", sha256=sha) is None
    day_ago = time.time() - 25 * 3600
    os.utime(Path(settings.MEDIA_ROOT) / name, (day_ago, day_ago))
    assert services.genomic_uploads_purge() == 1
    assert services.genomic_upload_read(name=name, sha256=sha) is None


def test_a_gzipped_vcf_is_stored_like_the_plain_one(world: World):
    import gzip

    data = gzip.compress(app_data.vcf())
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(data), metadata=meta()
    ).report
    assert report.variants.count() == 4
    assert report.source_size == len(data)


def test_a_cnv_and_fusion_table_is_stored_with_unknown_tmb(world: World):
    table = (
        b"#oncoboard-genomics-tsv 1\n"
        b"cnv\tERBB2\tamplification\t12.5\t2.64\n"
        b"fusion\tEML4\tALK\t41\n"
        b"msi\tMSS\t.\n"
    )
    report = services.genomic_report_create(
        user=world.member,
        patient=world.patient,
        source=services.ReportSource(format="tsv", data=table),
        metadata=meta(),
    ).report
    assert list(report.copy_numbers.values_list("gene", "call")) == [("ERBB2", "amplification")]
    assert list(report.fusions.values_list("gene_5prime", "gene_3prime")) == [("EML4", "ALK")]
    assert report.msi_status == "MSS"
    # A table of copy numbers and fusions says nothing about small variants.
    assert report.tmb is None
    assert report.tmb_high is None
    assert report.actionability.filter(gene="ALK").exclude(level="").exists()


def test_without_a_tumour_type_only_tumour_agnostic_entries_carry_a_level(world: World):
    # C80.9 (unknown primary site) maps to no OncoTree code.
    Diagnosis.objects.filter(patient=world.patient).update(primary_site="C80.9")
    table = b"#oncoboard-genomics-tsv 1\nfusion\tETV6\tNTRK3\t20\nfusion\tEML4\tALK\t41\n"
    report = services.genomic_report_create(
        user=world.member,
        patient=world.patient,
        source=services.ReportSource(format="tsv", data=table),
        metadata=meta(tumour_type=""),
    ).report
    assert report.tumour_type == "TISSUE"
    levelled = set(report.actionability.exclude(level="").values_list("kb_entry_id", flat=True))
    # NTRK fusions are listed for any solid tumour (larotrectinib, entrectinib); ALK fusions
    # only for NSCLC, so without a tumour type the ALK match carries no level.
    assert levelled == {"NTRK3-FUSION-TISSUE"}
    assert report.actionability.filter(gene="ALK", level="").exists()


def test_the_feature_vector_for_the_outcome_models_is_kept_with_the_report(world: World):
    from genomics.selectors import genomic_features_latest
    from genomics.variants.summary import feature_keys

    assert genomic_features_latest(patient=world.patient) == (None, {})
    report = services.genomic_report_create(
        user=world.member, patient=world.patient, source=vcf_source(), metadata=meta()
    ).report
    source, features = genomic_features_latest(patient=world.patient)
    assert source == report
    assert list(features) == list(feature_keys())
    assert features["EGFR_mut"] == 1.0
    assert features["KRAS_mut"] == 1.0
    assert features["BRCA2_mut"] == 0.0  # filtered out by the caller
    assert features["TMB"] == pytest.approx(2 / 1.2)
    assert features["MSI_H"] is None  # the VCF does not say: not measured, not MSS


def test_a_tumour_normal_vcf_without_a_hint_needs_the_tumour_sample_named(world: World):
    fixture = Path(__file__).parent / "fixtures" / "tumour_normal_vep.vcf"
    lines = fixture.read_bytes().splitlines(keepends=True)
    data = b"".join(line for line in lines if not line.startswith(b"##tumor_sample"))

    unnamed = services.genomic_report_preview(
        user=world.member, patient=world.patient, source=vcf_source(data), metadata=meta()
    )
    assert not unnamed.ok
    assert any("tumour sample" in p.reason.lower() for p in unnamed.problems)

    named = services.genomic_report_preview(
        user=world.member,
        patient=world.patient,
        source=services.ReportSource(format="vcf", data=data, tumour_sample="PATIENT7_T"),
        metadata=meta(),
    )
    assert named.ok, named.problems
    assert named.counts["variants"] > 0
