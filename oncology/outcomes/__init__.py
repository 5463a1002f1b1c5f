"""Outcome models: a pure library (no Django imports) for survival prediction and evaluation.

- cohorts: public survival cohorts that packages ship offline, as one tidy frame each;
- simulate: a simulated cohort with confounded treatment choice and known true survival;
- features: declared feature specifications and the encoder fitted on training data only;
- models: Cox PH (lifelines), gradient-boosted Cox (xgboost) and a DeepSurv-style network
  (torch) behind one interface (fit / predict_survival / risk);
- metrics and evaluate: Harrell's and Uno's C, integrated Brier score, calibration at a horizon,
  and the repeated stratified split protocol behind ``python -m oncology.outcomes evaluate``;
- compare and ensemble: the per-option comparison for one patient and its bootstrap bands, with
  the replicates refitted once at training time so bands cost milliseconds;
- domain: the applicability check (missing inputs, unseen categories, ranges, distance);
- explain: per-prediction contributions, top drivers in words and similar past patients;
- classifiers: response/toxicity classifiers (logistic, xgboost), calibration and metrics.

Django services, jobs, the API and the registry wrap this package; it never imports them.
"""
