"""Lesion characterisation, as plain Python (no Django): docs/lesion-models.md.

- :mod:`imaging.lesions.table`: the labelled feature table a benign/malignant classifier trains
  on (the Wisconsin diagnostic breast data that scikit-learn ships, or a site's labelled CSV).
- :mod:`imaging.lesions.malignancy`: the classifier (standardised L2 logistic regression or
  xgboost), its validation over repeated stratified 80/20 splits (AUC, Brier, calibration,
  sensitivity and specificity at a stated threshold), bootstrap intervals and per-feature
  contributions.
- :mod:`imaging.lesions.patches`: fixed-size, isotropic patches around candidate centres.
- :mod:`imaging.lesions.fp_cnn`: a small 3D CNN that separates nodules from false-positive
  candidates (vessels, walls, noise), with its held-out validation report.
- :mod:`imaging.lesions.synthetic`: seeded synthetic patches (spheres against tubes and noise)
  for tests and demonstrations.
"""
