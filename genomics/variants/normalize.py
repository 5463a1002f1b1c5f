"""Variant normalisation: trimming, and left-alignment when a reference is available.

Two representations of the same indel (``pos 10 CAA>C`` and ``pos 12 AAA>A`` inside a run of
A) must compare equal before a knowledge base can match them. The algorithm is the one of
Tan, Abecasis & Kang, "Unified representation of genetic variants", Bioinformatics 31:2202
(2015), as vt normalize implements it:

1. while both alleles end in the same base, drop it (extending one base to the left from the
   reference whenever an allele would become empty), which moves an indel leftwards through a
   repeat;
2. then drop shared leading bases while both alleles are longer than one base, so an indel keeps
   exactly one anchor base, as VCF requires.

Without a reference, step 1 stops as soon as an allele would become empty: the variant is
trimmed but NOT left-aligned. An indel in a repeat then keeps the position the caller chose
(most callers already left-align; VEP and vcf2maf do not change it).
"""

from __future__ import annotations

from dataclasses import replace

from .model import GenomicsParseError, SmallVariant
from .reference import ReferenceSequence


def normalize_alleles(
    chrom: str, pos: int, ref: str, alt: str, reference: ReferenceSequence | None = None
) -> tuple[int, str, str]:
    """(pos, ref, alt) trimmed, and left-aligned if `reference` is given. Upper-case alleles."""
    if ref == alt:
        raise GenomicsParseError("REF and ALT are the same allele")
    if len(ref) == 1 and len(alt) == 1:
        return pos, ref, alt  # an SNV: nothing to do (the common case, kept fast)
    if reference is not None:
        stored = reference.fetch(chrom, pos, pos + len(ref) - 1)
        # "N" in REF is a base the input did not know (a MAF indel's anchor): the reference
        # supplies it; every other base must agree with the reference.
        if any(a != b and a != "N" for a, b in zip(ref, stored, strict=True)):
            raise GenomicsParseError(
                f"REF does not match the reference at {chrom}:{pos} (wrong genome build?)"
            )
        if ref[0] == "N" and alt[:1] == "N":
            alt = stored[0] + alt[1:]
        ref = stored
        while True:
            if ref and alt and ref[-1] == alt[-1]:
                ref, alt = ref[:-1], alt[:-1]
            elif not ref or not alt:
                if pos <= 1:
                    break
                pos -= 1
                base = reference.fetch(chrom, pos, pos)
                ref, alt = base + ref, base + alt
            else:
                break
        if not ref or not alt:  # an indel at the very start of the sequence
            return pos, ref or "N", alt or "N"
    else:
        while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        pos += 1
    return pos, ref, alt


def normalize(variant: SmallVariant, reference: ReferenceSequence | None = None) -> SmallVariant:
    """The same variant, trimmed (and left-aligned with a reference); annotation untouched."""
    pos, ref, alt = normalize_alleles(
        variant.chrom, variant.pos, variant.ref.upper(), variant.alt.upper(), reference
    )
    if (pos, ref, alt) == (variant.pos, variant.ref, variant.alt):
        return variant
    return replace(variant, pos=pos, ref=ref, alt=alt)
