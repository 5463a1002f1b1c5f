"""Pure library: VCF/MAF parsing and normalisation, annotation against the knowledge base.

No Django import. The Django app (genomics/) stores what this library returns.
"""
