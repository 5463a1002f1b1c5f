"""Imaging: DICOM ingest, volumes, masks, viewer and radiomics (issues 3 and 4).

Not built yet; the package exists so the layout of shared/DESIGN.md is in place. It is not an
installed app and nothing in the UI, API or docs refers to it until it is real.
"""
