"""Reproduction outputs: Table I (csv/md), Fig. 1, gender breakdown and a self-contained report.

All numbers are computed on the test split from runs selected on dev; the table gives the
mean ± std over seeds, a participant-level bootstrap 95 % CI, and the paper's published
figures beside ours (the paper scores "statements", i.e. the utterance level).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from depscreen import CAVEAT, __version__
from depscreen.evaluation.figures import (
    confusion_matrix_figure,
    curves_figure,
    probabilities_figure,
)
from depscreen.stats.aggregate import LEVELS
from depscreen.stats.bootstrap import bootstrap_ci, counts_per_participant
from depscreen.stats.metrics import binary_metrics
from depscreen.table_models import FUSION_MODEL
from depscreen.table_models import ROW_MODELS as TABLE_MODELS
from depscreen.training.run_folder import RunFolder
from depscreen.utils.atomic import atomic_write_bytes, atomic_write_text
from depscreen.utils.provenance import environment

HEADLINE = ("f1_macro", "wa", "ua")
SECTIONS_DIR = "report_sections"  # each task's part of report.html (write_section)
SECTION_ORDER = ("binary", "multitask", "regression", "items", "audit")


def _mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def table_rows(results: list[dict], n_boot: int = 1000) -> list[dict]:
    """One row per model and level: mean, std, CI of F1/WA/UA (in %), and the paper's numbers."""

    rows = []
    models = [m for m in TABLE_MODELS if any(r["model"] == m for r in results)]
    for model in models:
        runs = sorted((r for r in results if r["model"] == model), key=lambda r: r["seed"])
        name, paper = TABLE_MODELS[model]
        for level in LEVELS:
            row = {"model": model, "name": name, "level": level, "seeds": len(runs)}
            for key in HEADLINE:
                mean, std = _mean_std([r["evaluation"].metrics[level][key] for r in runs])
                row[f"{key}_mean"], row[f"{key}_std"] = 100 * mean, 100 * std
            frames = [_level_frame(r["evaluation"], level) for r in runs]
            participants = sorted(set(frames[0]["session_id"]))
            ci = bootstrap_ci([counts_per_participant(f, participants) for f in frames],
                              n_boot=n_boot)
            for key in HEADLINE:
                row[f"{key}_ci_low"], row[f"{key}_ci_high"] = (100 * ci[key][0], 100 * ci[key][1])
            for key, value in zip(HEADLINE, paper or (None, None, None), strict=True):
                row[f"paper_{key}"] = value
            row["n"] = runs[0]["evaluation"].metrics[level]["n"]
            rows.append(row)
    return rows


def _level_frame(ev, level: str) -> pd.DataFrame:
    return ev.utterances if level == "utterance" else ev.participants


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.1f} ± {std:.1f}"


def table_markdown(rows: list[dict]) -> str:
    """Table I as markdown: ours at both levels beside the paper's (utterance-level) numbers."""
    by_model: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r["level"]] = r
    head = ("| Model | Paper F1 | Paper WA | Paper UA | F1 (utt.) | WA (utt.) | UA (utt.) "
            "| F1 (part.) | WA (part.) | UA (part.) | F1 95 % CI (part.) |")
    lines = [head, "|" + "---|" * 11]
    for levels in by_model.values():
        u, p = levels["utterance"], levels["participant"]
        paper = [("—" if u[f"paper_{k}"] is None else f"{u[f'paper_{k}']:.2f}".rstrip("0")
                  .rstrip(".")) for k in HEADLINE]
        ours_u = [_fmt(u[f"{k}_mean"], u[f"{k}_std"]) for k in HEADLINE]
        ours_p = [_fmt(p[f"{k}_mean"], p[f"{k}_std"]) for k in HEADLINE]
        ci = f"[{p['f1_macro_ci_low']:.1f}, {p['f1_macro_ci_high']:.1f}]"
        lines.append("| " + " | ".join([u["name"], *paper, *ours_u, *ours_p, ci]) + " |")
    return "\n".join(lines) + "\n"


def gender_rows(results: list[dict]) -> list[dict]:
    """Participant-level F1 (macro) and UA for men and women separately, and the gap."""
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        runs = [r for r in results if r["model"] == model]
        row: dict = {"model": model}
        for gender in ("male", "female"):
            f1s, uas, ns = [], [], []
            for r in runs:
                part = r["evaluation"].participants
                sub = part[part.get("gender") == gender] if "gender" in part else part.iloc[:0]
                if len(sub) == 0:
                    continue
                m = binary_metrics(sub["label"], sub["pred"])
                f1s.append(m["f1_macro"])
                uas.append(m["ua"])
                ns.append(len(sub))
            row[f"{gender}_n"] = ns[0] if ns else 0
            row[f"{gender}_f1"] = 100 * float(np.mean(f1s)) if f1s else float("nan")
            row[f"{gender}_ua"] = 100 * float(np.mean(uas)) if uas else float("nan")
        row["f1_gap"] = row["male_f1"] - row["female_f1"]
        row["ua_gap"] = row["male_ua"] - row["female_ua"]
        rows.append(row)
    return rows


def _fusion_confusion(results: list[dict], level: str, model: str) -> np.ndarray:
    cms = [np.array(r["evaluation"].metrics[level]["confusion_matrix"]) for r in results
           if r["model"] == model]
    return np.sum(cms, axis=0)


def _curves(results: list[dict], seed: int) -> dict[str, list[tuple[int, float]]]:
    curves = {}
    for r in results:
        path = Path(r["run"]) / "metrics.csv"
        if r["seed"] == seed and path.is_file():
            df = pd.read_csv(path)
            if "dev_ua" in df:
                curves[r["model"]] = list(zip(df["epoch"].tolist(), df["dev_ua"].tolist(),
                                              strict=True))
    return curves


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def build_outputs(cfg, prep, results: list[dict], seeds: list[int]) -> dict:
    """Write table.csv/md, confusion_matrix.png, gender.csv/md, report.html, summary.json."""
    out = Path(cfg.out)
    rows = table_rows(results, n_boot=cfg.n_boot)
    table = pd.DataFrame(rows)
    atomic_write_text(out / "table.csv", table.round(3).to_csv(index=False))
    md = table_markdown(rows)
    atomic_write_text(out / "table.md", md)

    fig_model = FUSION_MODEL if any(r["model"] == FUSION_MODEL for r in results) else \
        results[0]["model"]
    cm_utt = _fusion_confusion(results, "utterance", fig_model)
    cm_part = _fusion_confusion(results, "participant", fig_model)
    fig1 = confusion_matrix_figure(
        cm_utt, f"{TABLE_MODELS[fig_model][0]}: test statements, {len(seeds)} seed(s) pooled")
    atomic_write_bytes(out / "confusion_matrix.png", fig1)
    fig1p = confusion_matrix_figure(
        cm_part, f"{TABLE_MODELS[fig_model][0]}: test participants, {len(seeds)} seed(s) pooled")
    atomic_write_bytes(out / "confusion_matrix_participant.png", fig1p)

    gender = pd.DataFrame(gender_rows(results))
    atomic_write_text(out / "gender.csv", gender.round(2).to_csv(index=False))
    gender_md = df_markdown(gender.round(1))
    atomic_write_text(out / "gender.md", gender_md + "\n")

    # Per-participant probabilities of the figure model, averaged over seeds.
    parts = pd.concat([r["evaluation"].participants.assign(seed=r["seed"]) for r in results
                       if r["model"] == fig_model])
    per_part = parts.groupby("session_id").agg(label=("label", "first"), prob=("prob", "mean"),
                                               gender=("gender", "first")).reset_index()
    atomic_write_text(out / "participant_probabilities.csv", per_part.round(4).to_csv(index=False))
    thr = float(np.mean([r["evaluation"].metrics["thresholds"]["participant"] for r in results
                         if r["model"] == fig_model]))
    probs_png = probabilities_figure(per_part["prob"].to_numpy(), per_part["label"].to_numpy(),
                                     thr, f"{TABLE_MODELS[fig_model][0]}: test participants")
    curves_png = curves_figure(_curves(results, seeds[0]), "dev UA (utterance level)",
                               f"dev UA per epoch, seed {seeds[0]}")

    summary = {
        "depscreen_version": __version__,
        "task": "binary",
        "corpus": prep.corpus.name,
        "seeds": seeds,
        "table": rows,
        "gender": gender.to_dict("records"),
        "reproduce_config": cfg.to_dict(),
        "environment": environment(),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    write_section(out, "binary", binary_section(
        md, gender_md, {"fig1": fig1, "fig1p": fig1p, "probs": probs_png, "curves": curves_png},
        per_part))
    write_report(cfg, prep, results, seeds, summary)
    return summary


def write_section(out: Path, task: str, body: str) -> None:
    """Keep one task's part of report.html, so a later reproduce of another task into the
    same --out shows both."""
    atomic_write_text(Path(out) / SECTIONS_DIR / f"{task}.html", body)


def write_report(cfg, prep, results: list[dict], seeds: list[int], summary: dict) -> None:
    """report.html: the corpus, then every task's section found under --out, then this call's
    exact configuration and environment."""
    from depscreen.corpora.prepare import summary_rows

    out = Path(cfg.out)
    configs = {r["model"]: RunFolder(r["run"]).header()["train"] for r in results
               if r["seed"] == seeds[0]}
    sections = {t: (out / SECTIONS_DIR / f"{t}.html").read_text(encoding="utf-8")
                for t in SECTION_ORDER if (out / SECTIONS_DIR / f"{t}.html").is_file()}
    page = render_html(cfg, prep.corpus.name, summary_rows(prep.corpus), sections, configs,
                       summary)
    atomic_write_text(out / "report.html", page)


def df_markdown(df: pd.DataFrame) -> str:
    """A DataFrame as a markdown pipe table (pandas' to_markdown needs an extra package)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _md_table_html(md: str) -> str:
    """A markdown pipe table as an HTML table (no dependency)."""
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return f"<pre>{html.escape(md)}</pre>"
    cells = [[html.escape(c.strip()) for c in ln.strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def binary_section(table_md: str, gender_md: str, figs: dict, per_part: pd.DataFrame) -> str:
    """Table I, Fig. 1, the gender breakdown, curves and probabilities (report.html's part)."""
    probs_tbl = per_part.round(3).to_html(index=False, border=0)
    gender_html = _md_table_html(gender_md)
    return f"""<h2>Table I</h2>
<p>Mean ± standard deviation over seeds, in %. F1 is macro F1; WA is overall accuracy; UA is
the mean of per-class recall (balanced accuracy) — the standard definitions, not the paper's
printed formulas. "utt." scores every test statement (utterance window), as the paper does;
"part." scores one decision per participant (mean of its utterance probabilities). The CI is
a bootstrap over test participants of the seed-mean.</p>
{_md_table_html(table_md)}

<h2>Fig. 1: confusion matrices of the fusion model</h2>
<p>Row-normalised, with counts; all seeds pooled.</p>
{_img(figs["fig1"], "confusion matrix, statements")}
{_img(figs["fig1p"], "confusion matrix, participants")}

<h2>By gender (participant level)</h2>
<p>Depression detectors on DAIC-WOZ are known to be biased by gender; gap = men − women.</p>
{gender_html}

<h2>Training curves</h2>
{_img(figs["curves"], "training curves")}

<h2>Per-participant probabilities</h2>
{_img(figs["probs"], "participant probabilities")}
{probs_tbl}
"""


def _tables_title(sections: dict[str, str]) -> str:
    binary = "binary" in sections
    score = any(t not in ("binary", "audit") for t in sections)
    tables = "Tables I and II" if binary and score else "Table II" if score else \
        "Table I" if binary else ""
    if "audit" in sections:
        return f"{tables} and the interviewer-prompt audit" if tables else \
            "Interviewer-prompt audit"
    return tables


def render_html(cfg, corpus_name, corpus_rows, sections, configs, summary) -> str:
    """One self-contained page: no external scripts, styles or images. `sections`: each
    task's part (binary_section, report_regression.regression_section), in report order."""
    synthetic = corpus_name in ("synthetic",) or cfg.corpus == "synthetic"
    caveat = CAVEAT
    if synthetic:
        caveat = ("These results were computed on depscreen's synthetic interview corpus: they "
                  "show that the pipeline works and what the corpus was built to show, and are "
                  "not clinical evidence. " + CAVEAT)
    corpus_tbl = pd.DataFrame(corpus_rows).round(2).to_html(index=False, border=0)
    body = "".join(part + "\n" for part in sections.values())
    title = _tables_title(sections)
    cfg_json = html.escape(json.dumps({"reproduce": cfg.to_dict(), "train": configs}, indent=2,
                                      default=str))
    env_json = html.escape(json.dumps(summary["environment"], indent=2))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>depscreen reproduction: {title} on {html.escape(corpus_name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em;
       color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.caveat {{ background: #fff4e5; border-left: 4px solid #e67e22; padding: 0.8em 1em; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>{title} reproduction on {html.escape(corpus_name)}</h1>
<p class="caveat"><strong>Caveat.</strong> {html.escape(caveat)}</p>
<p>depscreen {html.escape(__version__)} · profile <code>{html.escape(cfg.profile)}</code> ·
seeds {html.escape(str(summary['seeds']))} · test split scored once per run, with models,
checkpoints and thresholds chosen on dev only.</p>

<h2>Corpus</h2>
{corpus_tbl}

{body}<h2>Exact configuration</h2>
<pre>{cfg_json}</pre>
<h2>Environment</h2>
<pre>{env_json}</pre>
</body>
</html>
"""
