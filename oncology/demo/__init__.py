"""The synthetic demo cohort: reproducible, clinically coherent, obviously not real people.

`generate_cohort(n_patients=..., seed=...)` returns canonical patient-record payloads (the shape
oncology/services/payload.py documents), built from published epidemiology and treatment
patterns (docs/demo-cohort.md). Everything here is plain Python and numpy except `setup`, which
creates the demo institution, teams and users in the database.

The data are for demonstrating the software. They support no clinical inference.
"""

from oncology.demo.cohort import DATA_CUTOFF, DEFAULT_PATIENTS, DEFAULT_SEED, generate_cohort

__all__ = ["DATA_CUTOFF", "DEFAULT_PATIENTS", "DEFAULT_SEED", "generate_cohort"]
