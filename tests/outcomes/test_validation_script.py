"""scripts/outcomes_validation.py replaces only its own part of docs/validation.md."""

from __future__ import annotations

from scripts.outcomes_validation import END_MARKER, kept_after_own_part


def test_everything_after_the_end_marker_is_kept_verbatim() -> None:
    existing = (
        "# Outcome model validation\n\nold table\n\n## Treatment comparison\n\nold\n\n"
        f"{END_MARKER}\n\n<!-- begin screening -->\n## Screening FROC\n\nsensitivity 0.9\n"
        "<!-- end screening -->\n"
    )
    assert kept_after_own_part(existing) == (
        "<!-- begin screening -->\n## Screening FROC\n\nsensitivity 0.9\n<!-- end screening -->\n"
    )


def test_a_file_without_the_marker_keeps_only_other_sections() -> None:
    existing = (
        "# Outcome model validation\n\nintro\n\n## Against the goals\n\nours\n\n"
        "## Lesion models\n\ntheirs\n\n## Treatment comparison\n\nours again\n\n"
        "## Screening FROC\n\nalso theirs\n"
    )
    assert kept_after_own_part(existing) == (
        "## Lesion models\n\ntheirs\n\n## Screening FROC\n\nalso theirs\n"
    )


def test_an_empty_or_missing_file_keeps_nothing() -> None:
    assert kept_after_own_part("") == ""
    assert kept_after_own_part("# Outcome model validation\n\n## Against the goals\n") == ""


def test_a_file_without_the_marker_keeps_other_scripts_begin_markers() -> None:
    existing = (
        "# Outcome model validation\n\n## Treatment comparison\n\nours\n\n"
        "<!-- begin lesion-models -->\n## Lesion models\n\ntheirs\n<!-- end lesion-models -->\n"
    )
    assert kept_after_own_part(existing) == (
        "<!-- begin lesion-models -->\n## Lesion models\n\ntheirs\n<!-- end lesion-models -->\n"
    )
