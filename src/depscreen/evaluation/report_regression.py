"""Table II: the PHQ-8 score estimates of `reproduce --task regression` (and items, multitask).

One row per model: mean ± std over seeds of the test participants' RMSE, MAE, CCC and
Pearson r, and of the screen obtained by thresholding the estimate at 10 (UA and macro F1,
in %); a participant-bootstrap 95 % CI of RMSE and CCC of the seed-mean estimate (each
participant's estimates averaged over the seeds, as Table I bootstraps the seed-mean). Then
the naive references (predict the train mean, the train median: from train scores only, so
the same for every seed) and the AVEC anchors as published (table_models.AVEC_ANCHORS),
marked with the corpus they were scored on: numbers for orientation, never re-run here.

The figures (estimate against truth with the identity line; residuals by gender) show the
model with the lowest mean dev participant RMSE over its seeds (each run's done.json): the
choice never looks at test.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from depscreen import __version__
from depscreen.evaluation.figures import residuals_figure, score_scatter_figure
from depscreen.evaluation.report import _img, _md_table_html, _mean_std, write_report, write_section
from depscreen.stats.regression import bootstrap_regression_ci
from depscreen.table_models import AVEC_ANCHORS, ROW_MODELS
from depscreen.training.run_folder import RunFolder
from depscreen.utils.atomic import atomic_write_bytes, atomic_write_text
from depscreen.utils.provenance import environment

SCORE_KEYS = ("rmse", "mae", "ccc", "pearson_r")
SCREEN_KEYS = {"screen_ua": "ua", "screen_f1": "f1_macro"}  # column -> binary_metrics key
CI_KEYS = ("rmse", "ccc")
NAIVE = ("train mean", "train median")
CORPUS_LABELS = {"daic-woz": "DAIC-WOZ", "edaic": "E-DAIC"}
SELECTED_BY = "dev_participant_rmse"  # done.json dev_metrics key the figure model is chosen by


def output_names(task: str) -> dict[str, str]:
    """The files one task's Table II writes under --out (table_regression.csv, ...)."""
    return {"csv": f"table_{task}.csv", "md": f"table_{task}.md",
            "scatter": f"{task}_scatter.png", "residuals": f"{task}_residuals.png",
            "estimates": f"{task}_participant_estimates.csv", "summary": f"summary_{task}.json"}


def anchor_note(corpus: str, anchor_corpus: str) -> str:
    """How a published number relates to this run's corpus."""
    if corpus == anchor_corpus:
        return "published, same corpus"
    if corpus in CORPUS_LABELS:
        return f"published, {CORPUS_LABELS[anchor_corpus]}"
    return "published, another corpus (not comparable)"


def pooled_estimates(runs: list[dict]) -> pd.DataFrame:
    """One row per scored test participant: true score, estimate averaged over the runs
    (seeds), gender."""
    frames = [r["evaluation"].participants for r in runs]
    parts = pd.concat(frames)
    parts = parts[np.isfinite(parts["score"].astype(float))]
    if "gender" not in parts:
        parts = parts.assign(gender="unknown")
    return (parts.groupby("session_id", sort=True)
            .agg(score=("score", "first"), score_pred=("score_pred", "mean"),
                 gender=("gender", "first"))
            .reset_index())


def _model_row(model: str, runs: list[dict], n_boot: int) -> dict:
    row: dict = {"model": model, "name": ROW_MODELS[model][0], "kind": "model",
                 "note": "this reproduction", "seeds": len(runs),
                 "n": runs[0]["evaluation"].metrics["regression"]["n"]}
    metrics = [r["evaluation"].metrics["regression"] for r in runs]
    for key in SCORE_KEYS:
        row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([m[key] for m in metrics])
    for col, key in SCREEN_KEYS.items():
        mean, std = _mean_std([m["screen"][key] for m in metrics])
        row[f"{col}_mean"], row[f"{col}_std"] = 100 * mean, 100 * std
    pooled = pooled_estimates(runs)
    y, p = pooled["score"].to_numpy(dtype=float), pooled["score_pred"].to_numpy(dtype=float)
    for key in CI_KEYS:
        row[f"{key}_ci_low"], row[f"{key}_ci_high"] = bootstrap_regression_ci(
            y, p, key, n_boot=n_boot)
    row["source"] = None
    return row


def _naive_rows(results: list[dict]) -> list[dict]:
    rows = []
    for name in NAIVE:
        refs = [r["evaluation"].metrics["naive"][name] for r in results]
        row: dict = {"model": name.replace(" ", "-"), "name": f"Naive: {name}", "kind": "naive",
                     "note": "naive reference (constant from train scores only)",
                     "seeds": len({r["seed"] for r in results}), "n": refs[0]["n"]}
        for key in SCORE_KEYS:
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([m[key] for m in refs])
        for col, key in SCREEN_KEYS.items():
            mean, std = _mean_std([m["screen"][key] for m in refs])
            row[f"{col}_mean"], row[f"{col}_std"] = 100 * mean, 100 * std
        row["source"] = None
        rows.append(row)
    return rows


def _anchor_rows(corpus: str) -> list[dict]:
    rows = []
    for key, a in AVEC_ANCHORS.items():
        row: dict = {"model": key, "name": a["name"], "kind": "published",
                     "note": anchor_note(corpus, a["corpus"]), "seeds": None, "n": None}
        for metric in SCORE_KEYS:
            row[f"{metric}_mean"], row[f"{metric}_std"] = a[metric], None
        row["source"] = a["source"]
        rows.append(row)
    return rows


def regression_rows(results: list[dict], corpus: str, n_boot: int = 1000) -> list[dict]:
    """Table II: the models (in the table's order), the naive references, the AVEC anchors.
    `corpus` is the reproduce --corpus (synthetic, daic-woz, edaic, manifest)."""
    models = [m for m in ROW_MODELS if any(r["model"] == m for r in results)]
    rows = []
    for model in models:
        runs = sorted((r for r in results if r["model"] == model), key=lambda r: r["seed"])
        rows.append(_model_row(model, runs, n_boot))
    return rows + _naive_rows(results) + _anchor_rows(corpus)


def _num(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _cell(row: dict, key: str, digits: int = 2) -> str:
    mean, std = row.get(f"{key}_mean"), row.get(f"{key}_std")
    if row["kind"] != "model" or std is None:
        return _num(mean, digits)
    return f"{_num(mean, digits)} ± {_num(std, digits)}"


def _ci(row: dict, key: str) -> str:
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    return "—" if lo is None else f"[{_num(lo)}, {_num(hi)}]"


def regression_markdown(rows: list[dict]) -> str:
    """Table II as markdown, then the sources of the published rows."""
    head = ("| Model | RMSE | MAE | CCC | Pearson r | Screen UA (%) | Screen F1 (%) "
            "| RMSE 95 % CI | CCC 95 % CI | Note |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        cells = [r["name"], *(_cell(r, k) for k in SCORE_KEYS),
                 *(_cell(r, k, 1) for k in SCREEN_KEYS), _ci(r, "rmse"), _ci(r, "ccc"),
                 r["note"]]
        lines.append("| " + " | ".join(cells) + " |")
    sources = [f"- {r['name']}: {r['source']}" for r in rows if r["kind"] == "published"]
    return "\n".join(lines) + "\n\nPublished rows, as printed in:\n" + "\n".join(sources) + "\n"


def item_rows(results: list[dict]) -> list[dict]:
    """Per model, mean ± std over seeds of each PHQ-8 item's MAE: on the evaluated (test)
    split when its labels carry items, and on dev (DAIC-WOZ's test labels have none)."""
    from depscreen.corpora.records import PHQ8_ITEMS

    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        runs = [r["evaluation"].metrics for r in results if r["model"] == model]
        for split, key in (("test", "item_mae"), ("dev", "item_mae_dev")):
            if any(m.get(key) is None for m in runs):
                continue
            row = {"model": model, "name": ROW_MODELS[model][0], "kind": "model", "split": split}
            for item in PHQ8_ITEMS:
                row[f"{item}_mean"], row[f"{item}_std"] = _mean_std([m[key][item] for m in runs])
            rows.append(row)
    return rows


def item_markdown(rows: list[dict]) -> str:
    from depscreen.corpora.records import PHQ8_ITEMS

    head = "| Model | Split | " + " | ".join(PHQ8_ITEMS) + " |"
    lines = [head, "|" + "---|" * (len(PHQ8_ITEMS) + 2)]
    for r in rows:
        cells = [_cell(r, item) for item in PHQ8_ITEMS]
        lines.append(f"| {r['name']} | {r['split']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure_model(results: list[dict]) -> tuple[str, float]:
    """The model with the lowest mean dev participant RMSE over its seeds (ties: the table's
    order), and that RMSE. Reads each run's done.json; never looks at test."""
    best: tuple[str, float] | None = None
    for model in [m for m in ROW_MODELS if any(r["model"] == m for r in results)]:
        values = [json.loads(RunFolder(r["run"]).done_file.read_text())["dev_metrics"]
                  .get(SELECTED_BY, math.nan) for r in results if r["model"] == model]
        value = float(np.mean(values))
        if math.isfinite(value) and (best is None or value < best[1]):
            best = (model, value)
    if best is None:  # no run logged a dev participant RMSE: the first row
        return results[0]["model"], math.nan
    return best


def regression_section(task: str, table_md: str, figs: dict[str, bytes], chosen: str,
                       dev_rmse: float, items_md: str = "") -> str:
    """Table II, its sources and the two figures (report.html's part)."""
    title = "PHQ-8 score (Table II)" if task == "regression" else \
        f"PHQ-8 score (Table II, --task {html.escape(task)})"
    sources = "".join(f"<li>{html.escape(a['name'])}: {html.escape(a['source'])}</li>"
                      for a in AVEC_ANCHORS.values())
    name = html.escape(ROW_MODELS[chosen][0])
    return f"""<h2>{title}</h2>
<p>Each participant's PHQ-8 total (0-24) estimated from their utterances (mean or median,
whichever gave the dev participants the lower RMSE). Mean ± standard deviation over seeds of
the test participants' RMSE, MAE, Lin's CCC and Pearson r; the screen thresholds the
estimate at 10 (UA and macro F1 in %). The CIs are a bootstrap over test participants of the
seed-mean estimate. The naive references predict the train split's mean or median score for
everyone. The published rows are other systems' numbers as printed, for orientation only;
the note says whether they were scored on this corpus.</p>
{_md_table_html(table_md)}
<p>Published rows:</p>
<ul>{sources}</ul>
<p>The figures show {name}: the model with the lowest mean dev participant RMSE over its seeds
({_num(dev_rmse)}), chosen on dev, never on test. One point per test participant, its
estimate averaged over the seeds.</p>
{_img(figs["scatter"], "estimated against true PHQ-8")}
{_img(figs["residuals"], "residuals by gender")}
{_items_html(items_md)}"""


def _items_html(items_md: str) -> str:
    if not items_md:
        return ""
    return f"""<h3>PHQ-8 items: mean absolute error per item (0-3 scale)</h3>
<p>Which symptoms the estimate gets right: the MAE of each item's estimate, mean ± standard
deviation over seeds, on the test split where its labels carry the items and on dev.</p>
{_md_table_html(items_md)}
"""


def build_regression_outputs(cfg, prep, results: list[dict], seeds: list[int]) -> dict:
    """Write table_<task>.csv/md, the scatter and residual figures, the figure model's
    per-participant estimates, summary_<task>.json, and report.html (every task's section
    under --out)."""
    out, task = Path(cfg.out), cfg.task
    names = output_names(task)
    rows = regression_rows(results, cfg.corpus, n_boot=cfg.n_boot)
    atomic_write_text(out / names["csv"], pd.DataFrame(rows).round(3).to_csv(index=False))
    md = regression_markdown(rows)
    atomic_write_text(out / names["md"], md)

    chosen, dev_rmse = figure_model(results)
    pooled = pooled_estimates([r for r in results if r["model"] == chosen])
    atomic_write_text(out / names["estimates"], pooled.round(4).to_csv(index=False))
    label = f"{ROW_MODELS[chosen][0]}: test participants, mean of {len(seeds)} seed(s)"
    y, p, g = pooled["score"].to_numpy(), pooled["score_pred"].to_numpy(), pooled["gender"]
    figs = {"scatter": score_scatter_figure(y, p, g, label),
            "residuals": residuals_figure(y, p, g, label)}
    for key, png in figs.items():
        atomic_write_bytes(out / names[key], png)

    summary = {
        "depscreen_version": __version__,
        "task": task,
        "corpus": prep.corpus.name,
        "seeds": seeds,
        "table": rows,
        "figure_model": {"model": chosen, "chosen_by": f"mean dev {SELECTED_BY}",
                         SELECTED_BY: dev_rmse},
        "reproduce_config": cfg.to_dict(),
        "environment": environment(),
    }
    atomic_write_text(out / names["summary"],
                      json.dumps(summary, indent=2, default=str) + "\n")
    items_md = ""
    if task == "items":
        per_item = item_rows(results)
        atomic_write_text(out / f"table_{task}_per_item.csv",
                          pd.DataFrame(per_item).round(3).to_csv(index=False))
        items_md = item_markdown(per_item)
        atomic_write_text(out / f"table_{task}_per_item.md", items_md)
    write_section(out, task, regression_section(task, md, figs, chosen, dev_rmse, items_md))
    write_report(cfg, prep, results, seeds, summary)
    return summary
