"""HL7 FHIR R4 (mCODE) mapping of the patient record: pure, no Django.

- `export`: the record payload (oncology.services.payload's shape) -> a FHIR Bundle (dict),
  validated by building it with fhir.resources (R4B models, the closest to R4 in version 8).
- `imports`: a FHIR Bundle (dict) -> validation errors with their paths, or record payloads
  that oncology.services.sync upserts.
- `codes`: the code map (SNOMED CT, LOINC, ICD-10, ICD-O-3, UCUM, local), as data.
"""
