"""`depscreen audit`: does the corpus let a model cheat through the interviewer's prompts?

Burdisso et al. (ClinicalNLP 2024) showed that DAIC-WOZ's interviewer reacts to what the
participant said, so a text model reading only the interviewer's turns predicts the label
about as well as honest participant-only models. The audit measures that on any prepared
corpus with interviewer turns:

1. the text baseline (`tfidf-lr`) and `lstm-cnn-text` are trained on the interviewer's turns
   only and on the participant's, with the usual seeds, dev selection and dev thresholds
   (`--source`, reproduce's train-and-score jobs); test is only scored;
2. each gets its test UA / macro F1 (mean ± std over seeds) and a participant-bootstrap 95%
   CI of the seed-mean UA;
3. the verdict reads the interviewer-only model with the better mean DEV UA (never test): if
   its UA CI lies above chance (0.5), the interviewer's turns predict the label and models
   that read them are not comparable with participant-only ones; else "no evidence";
4. the interviewer prompts whose share of sessions differs most between the classes, counted
   on the TRAIN split (interviewer text only; no participant words are listed).

Outputs under --out: audit.json, audit.md and an "audit" section of report.html.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depscreen import __version__
from depscreen.errors import DepscreenError
from depscreen.reproduce import prepare_corpus, run_jobs
from depscreen.stats.bootstrap import bootstrap_ci, counts_per_participant
from depscreen.training.run_folder import RunFolder
from depscreen.utils.atomic import atomic_write_text
from depscreen.utils.outputs import check_output_folder, corpus_folder
from depscreen.utils.provenance import environment

AUDIT_MODELS = ("tfidf-lr", "lstm-cnn-text")
SOURCES = ("interviewer", "participant")
CHANCE = 0.5
TOP_PROMPTS = 10


@dataclass
class AuditConfig:
    corpus: str = "synthetic"
    root: Path = Path("data/synthetic")
    out: Path = Path("runs/audit")
    profile: str = "fast"
    seeds: int = 3
    first_seed: int = 0
    models: tuple[str, ...] = AUDIT_MODELS
    jobs: int | None = None
    synth: dict = field(default_factory=dict)  # SynthConfig overrides (e.g. prompt_leak)
    train_overrides: dict = field(default_factory=dict)
    n_boot: int = 1000

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["root"], d["out"], d["models"] = str(self.root), str(self.out), list(self.models)
        return d


def run_dir(cfg: AuditConfig, source: str, model: str, seed: int) -> Path:
    return Path(cfg.out) / "runs" / source / model / f"seed{seed}"


def _prepare(cfg: AuditConfig, progress: bool):
    prep = prepare_corpus(cfg.corpus, cfg.root, cfg.out, cfg.synth, progress)
    with_turns = sum(1 for s in prep.corpus.sessions if s.interviewer)
    if with_turns == 0:
        raise DepscreenError(
            "the corpus has no interviewer turns, so the interviewer-prompt audit cannot run "
            "(E-DAIC's transcripts have no speaker column; a manifest needs DAIC-style "
            "transcripts with a speaker column)", cfg.root)
    return prep


def _jobs(cfg: AuditConfig) -> list[tuple[str, str, int, dict]]:
    from depscreen.training.config import TrainConfig

    specs = []
    for source in SOURCES:
        for model in cfg.models:
            for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
                tc = TrainConfig(model=model, profile=cfg.profile, seed=seed, source=source,
                                 **cfg.train_overrides)
                specs.append((source, model, seed, tc.to_dict()))
    return specs


def _run_all(cfg: AuditConfig, prepared: Path, specs: list, progress: bool) -> None:
    from rich.progress import Progress

    scoring = {"aggregation": "mean", "threshold_rule": "balanced-logistic"}
    calls = [(str(prepared), tc, str(run_dir(cfg, source, model, seed)), None)
             for source, model, seed, tc in specs]
    labels = [f"{source}: {model} (seed {seed})" for source, model, seed, _ in specs]
    with Progress(disable=not progress) as bar:
        task = bar.add_task("audit runs (train + test scoring)", total=len(specs))
        run_jobs(calls, cfg.jobs, scoring, bar, task, labels)


def _model_row(cfg: AuditConfig, source: str, model: str, seeds: list[int]) -> dict:
    """Test UA / F1 over seeds, the bootstrap CI of the seed-mean UA, and the mean dev UA."""
    from depscreen.evaluation.evaluate import load_evaluation

    evs = [load_evaluation(run_dir(cfg, source, model, s) / "eval-test") for s in seeds]
    parts = [e.participants for e in evs]
    people = sorted(set(parts[0]["session_id"]))
    ci = bootstrap_ci([counts_per_participant(p, people) for p in parts], n_boot=cfg.n_boot)
    ua = [e.metrics["participant"]["ua"] for e in evs]
    f1 = [e.metrics["participant"]["f1_macro"] for e in evs]
    dev = [RunFolder(run_dir(cfg, source, model, s)).done()["dev_metrics"]["dev_participant_ua"]
           for s in seeds]
    return {"source": source, "model": model, "seeds": len(seeds), "n_test": len(people),
            "ua_mean": float(np.mean(ua)), "ua_std": float(np.std(ua, ddof=1)) if len(ua) > 1
            else 0.0, "f1_mean": float(np.mean(f1)), "ua_ci": list(ci["ua"]),
            "dev_ua_mean": float(np.mean(dev))}


def prompt_differences(corpus, top: int = TOP_PROMPTS) -> list[dict]:
    """Interviewer prompts (cleaned text) whose share of TRAIN sessions differs most between
    the classes: counts of sessions that hear them, per class. No participant text."""
    train = [s for s in corpus.by_split("train") if s.interviewer and s.label in (0, 1)]
    n = Counter(s.label for s in train)
    heard: dict[str, Counter] = {}
    for s in train:
        for prompt in {u.text for u in s.interviewer if u.text}:
            heard.setdefault(prompt, Counter())[s.label] += 1
    rows = []
    for prompt, c in heard.items():
        share_dep, share_not = c[1] / max(n[1], 1), c[0] / max(n[0], 1)
        rows.append({"prompt": prompt, "sessions_depressed": c[1], "sessions_not": c[0],
                     "share_depressed": round(share_dep, 3), "share_not": round(share_not, 3),
                     "difference": round(share_dep - share_not, 3)})
    rows.sort(key=lambda r: (-abs(r["difference"]), r["prompt"]))
    return rows[:top]


def verdict(rows: list[dict]) -> tuple[str, dict]:
    """The verdict line, from the interviewer-only model with the best mean dev UA."""
    candidates = [r for r in rows if r["source"] == "interviewer"]
    best = max(candidates, key=lambda r: (r["dev_ua_mean"], -AUDIT_MODELS.index(r["model"])
                                          if r["model"] in AUDIT_MODELS else 0))
    lo, hi = best["ua_ci"]
    stat = f"UA {best['ua_mean']:.2f} [{lo:.2f}, {hi:.2f}]"
    if lo > CHANCE:
        return (f"interviewer turns predict the label ({stat}, {best['model']}); models that "
                "read them are not comparable with participant-only ones"), best
    return (f"no evidence of a shortcut: interviewer-only {stat} ({best['model']}) includes "
            f"chance ({CHANCE:.2f})"), best


def audit_markdown(rows: list[dict], line: str, prompts: list[dict]) -> str:
    out = [f"**Verdict:** {line}", "",
           "| Source | Model | Test UA | 95% CI (UA) | Test F1 | Dev UA | Seeds |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["ua_ci"]
        out.append(f"| {r['source']} | {r['model']} | {r['ua_mean']:.3f} ± {r['ua_std']:.3f} | "
                   f"[{lo:.3f}, {hi:.3f}] | {r['f1_mean']:.3f} | {r['dev_ua_mean']:.3f} | "
                   f"{r['seeds']} |")
    out += ["", "Interviewer prompts whose share of train sessions differs most between the "
            "classes (sessions that hear each prompt):", "",
            "| Prompt | Depressed | Not depressed | Share dep. | Share not | Difference |",
            "|---|---|---|---|---|---|"]
    for p in prompts:
        out.append(f"| {p['prompt']} | {p['sessions_depressed']} | {p['sessions_not']} | "
                   f"{p['share_depressed']:.2f} | {p['share_not']:.2f} | {p['difference']:+.2f} |")
    return "\n".join(out) + "\n"


def audit_section(md: str) -> str:
    from depscreen.evaluation.report import _md_table_html

    verdict_line, _, rest = md.partition("\n\n")
    tables = rest.split("\n\n")
    body = "".join(_md_table_html(t) if t.startswith("|") else f"<p>{html.escape(t)}</p>"
                   for t in tables if t.strip())
    return f"""<h2>Interviewer-prompt audit</h2>
<p>Text models trained on the interviewer's turns only, and on the participant's, with the
same seeds, dev selection and dev thresholds; participant-level test UA with a
participant-bootstrap 95% CI of the seed-mean. The verdict reads the interviewer-only model
with the better dev UA (Burdisso et al., ClinicalNLP 2024).</p>
<p><strong>{html.escape(verdict_line.replace("**Verdict:** ", "Verdict: "))}</strong></p>
{body}
"""


def audit(cfg: AuditConfig, progress: bool = True) -> dict:
    """Run the audit (module docstring); returns what it writes to OUT/audit.json."""
    from depscreen.evaluation.report import write_report, write_section

    out = Path(cfg.out)
    check_output_folder(out, roots=[("the corpus root --root", corpus_folder(cfg.root))])
    out.mkdir(parents=True, exist_ok=True)
    prep = _prepare(cfg, progress)
    specs = _jobs(cfg)
    _run_all(cfg, out / "prepared", specs, progress)
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    rows = [_model_row(cfg, source, model, seeds) for source in SOURCES for model in cfg.models]
    line, best = verdict(rows)
    prompts = prompt_differences(prep.corpus)
    summary = {"depscreen_version": __version__, "verdict": line, "verdict_model": best,
               "leak": best["ua_ci"][0] > CHANCE, "chance": CHANCE, "rows": rows,
               "prompts": prompts, "corpus": prep.corpus.name, "seeds": seeds,
               "sessions_with_interviewer_turns": sum(1 for s in prep.corpus.sessions
                                                      if s.interviewer),
               "audit_config": cfg.to_dict(), "environment": environment()}
    atomic_write_text(out / "audit.json", json.dumps(summary, indent=2, default=str) + "\n")
    md = audit_markdown(rows, line, prompts)
    atomic_write_text(out / "audit.md", md)
    write_section(out, "audit", audit_section(md))
    results = [{"model": f"{s}:{m}", "seed": seeds[0], "run": run_dir(cfg, s, m, seeds[0])}
               for s in SOURCES for m in cfg.models]
    write_report(cfg, prep, results, seeds, summary)
    return summary

