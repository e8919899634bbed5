"""How much does the dev-fixed threshold rule move the participant-level table? (seconds)

For a finished `depscreen reproduce` folder, re-scores every run's test predictions with
thresholds fixed on that run's dev predictions by each rule of
`stats.threshold.THRESHOLD_RULES`, and prints per model the participant-level UA and F1
(mean ± std over seeds) and the mean dev-chosen participant threshold. Nothing is retrained;
the rules only read dev to choose.

Run it on development corpora (other synthetic seeds), never to choose a rule by the default
corpus's test table:

    depscreen synth --out data/synth_s1 --seed 1
    depscreen reproduce --root data/synth_s1 --out runs/dev_s1
    .venv/bin/python bench/threshold_rules.py runs/dev_s1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from depscreen.evaluation.evaluate import dev_thresholds, score
from depscreen.evaluation.report import df_markdown
from depscreen.stats.threshold import THRESHOLD_RULES


def _mean_std(values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.1f}"


def rule_table(reproduce_dir: Path, aggregation: str = "mean") -> list[dict]:
    rows = []
    for model_dir in sorted((reproduce_dir / "runs").iterdir()):
        seeds = sorted(p for p in model_dir.glob("seed*")
                       if (p / "eval-test" / "utterance_predictions.csv").is_file())
        if not seeds:
            continue
        read = {"dtype": {"session_id": str}}
        predictions = []  # (dev, test) per seed, read once for every rule
        for run in seeds:
            dev = pd.read_csv(run / "dev_predictions.csv", **read)
            test = pd.read_csv(run / "eval-test" / "utterance_predictions.csv", **read)
            predictions.append((dev[dev["label"] >= 0], test))
        for rule in THRESHOLD_RULES:
            ua, f1, thr = [], [], []
            for dev, test in predictions:
                t = dev_thresholds(dev["session_id"], dev["prob"], dev["label"], aggregation, rule)
                m = score(test[["session_id", "label", "prob"]], t, aggregation).metrics
                ua.append(m["participant"]["ua"])
                f1.append(m["participant"]["f1_macro"])
                thr.append(t["participant"])
            rows.append({"model": model_dir.name, "rule": rule, "seeds": len(seeds),
                         "UA (part.)": _mean_std(ua), "F1 (part.)": _mean_std(f1),
                         "threshold": f"{np.mean(thr):.2f}"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reproduce_dir", type=Path, help="a finished `depscreen reproduce` --out")
    ap.add_argument("--aggregation", default="mean", choices=("mean", "majority"))
    args = ap.parse_args()
    rows = rule_table(args.reproduce_dir, args.aggregation)
    if not rows:
        raise SystemExit(f"{args.reproduce_dir}: no scored runs (runs/MODEL/seedS/eval-test)")
    print(df_markdown(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()
