"""Command-line tool for researchers: ``python -m oncology.outcomes evaluate COHORT.csv ...``.

Prints the validation protocol's JSON (see oncology.outcomes.evaluate) on standard output;
a bad file or option prints one line on standard error and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import pandas as pd

from oncology.outcomes.evaluate import EvaluationError, evaluate
from oncology.outcomes.features import FeatureError
from oncology.outcomes.models import MODEL_KINDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m oncology.outcomes")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser(
        "evaluate",
        help="repeated stratified 80/20 splits: Harrell C, Uno C, integrated Brier, calibration",
        description=(
            "Every column other than --time and --event is a feature; text columns are "
            "one-hot encoded, numeric columns standardised, missing numbers imputed (median) "
            "with a missing-indicator, all fitted on each split's training rows only."
        ),
    )
    ev.add_argument("cohort", help="CSV file, one row per patient")
    ev.add_argument("--time", required=True, help="column with the follow-up time")
    ev.add_argument("--event", required=True, help="column with 1 = event, 0 = censored")
    ev.add_argument(
        "--treatment",
        action="append",
        default=[],
        help="treatment column (categorical feature and split stratum); repeatable",
    )
    ev.add_argument("--model", choices=list(MODEL_KINDS), default="cox")
    ev.add_argument(
        "--splines",
        type=int,
        choices=[0, 3, 4, 5],
        default=0,
        help="cox only: restricted cubic splines with this many knots for every continuous "
        "column (0: linear, the default)",
    )
    ev.add_argument("--splits", type=int, default=5)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--horizon",
        type=float,
        default=None,
        help="time for calibration and Brier at the horizon, in the cohort's time unit "
        "(default: the median follow-up)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        frame = pd.read_csv(args.cohort)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        print(f"error: cannot read {args.cohort}: {exc}", file=sys.stderr)
        return 2
    if args.splines and args.model != "cox":
        print("error: --splines applies to --model cox only", file=sys.stderr)
        return 2
    try:
        result = evaluate(
            frame,
            time_col=args.time,
            event_col=args.event,
            treatment_cols=args.treatment,
            model_kind=args.model,
            n_splits=args.splits,
            seed=args.seed,
            horizon=args.horizon,
            model_params={"splines": args.splines} if args.splines else None,
        )
    except (EvaluationError, FeatureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
