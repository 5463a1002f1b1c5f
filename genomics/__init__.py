"""Genomics: VCF/MAF reports, annotation, TMB/MSI (issue 5).

Not built yet; the package exists so the layout of shared/DESIGN.md is in place. It is not an
installed app and nothing in the UI, API or docs refers to it until it is real.
"""
