"""Genomics: genomic reports of a patient (VCF, MAF, CNV/fusion tables, JSON), their variants,
copy-number calls and fusions, TMB/MSI and actionability against the knowledge base (issue 5).

genomics/variants/ is the pure library that parses and annotates; this app stores, shows and
serves what it returns, with the record's access rules and audit.
"""
