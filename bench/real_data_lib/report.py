"""Markdown tables of the real-data benchmark, the JSON beside them and the README block.

A task's entry (as stored in results_real.json):

    {"task", "title", "command", "date", "corpus": {...}, "protocol": str,
     "folds_planned": K, "folds_run": [0, ...],
     "rows": [{"name", "source": "depscreen" | "reference", "modality": "speech" | "text" |
               "fusion", "family": "deep" | "classical", "model", "flags",
               "folds": {"0": {"ua", "f1_macro", "seconds", ...} or {"error", ...}}}]}

UA and macro F1 are participant level, stored as fractions, shown in % as mean ± sample std
over the folds that finished.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

README_START = "<!-- real-data:start -->"
README_END = "<!-- real-data:end -->"
CLAIM_MARGIN = 3.0  # UA points the best fusion row should lead the best single-modality row by
FORMAT = 1


def summarise(row: dict) -> dict:
    """n done, mean/std of UA and F1 (in %), the errors (fold -> message)."""
    done = [f for f in row["folds"].values() if "error" not in f and "ua" in f]
    errors = {k: f["error"] for k, f in row["folds"].items() if "error" in f}
    out: dict = {"n": len(done), "errors": errors}
    for key in ("ua", "f1_macro"):
        values = [100.0 * f[key] for f in done]
        out[key] = sum(values) / len(values) if values else math.nan
        out[key + "_std"] = (math.sqrt(sum((v - out[key]) ** 2 for v in values)
                                       / (len(values) - 1)) if len(values) > 1 else math.nan)
    return out


def _pm(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.1f}" if math.isnan(std) else f"{mean:.1f} ± {std:.1f}"


def _best(rows: list[dict], stats: dict[str, dict], n_run: int, keep) -> dict | None:
    """The row with the best mean UA (then F1) among `keep` rows done on every fold run."""
    cands = [r for r in rows if keep(r) and stats[r["name"]]["n"] == n_run and n_run > 0]
    if not cands:
        return None
    return max(cands, key=lambda r: (stats[r["name"]]["ua"], stats[r["name"]]["f1_macro"]))


def _short(msg: str, limit: int = 110) -> str:
    msg = " ".join(msg.replace("|", "/").split())
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"


def markers(entry: dict) -> tuple[dict[str, list[str]], str | None]:
    """Row name -> its marks, and the paired task's fusion-check sentence (else None)."""
    rows, n_run = entry["rows"], len(entry["folds_run"])
    stats = {r["name"]: summarise(r) for r in rows}
    marks: dict[str, list[str]] = {r["name"]: [] for r in rows}
    deep = _best(rows, stats, n_run, lambda r: r["source"] == "depscreen" and r["family"] == "deep")
    classical = _best(rows, stats, n_run, lambda r: r["family"] == "classical")
    if deep:
        marks[deep["name"]].append("best deep depscreen")
    if classical:
        marks[classical["name"]].append("best classical")
    check = None
    if entry["task"].startswith("paired"):
        fusion = _best(rows, stats, n_run, lambda r: r["modality"] == "fusion")
        single = _best(rows, stats, n_run, lambda r: r["modality"] in ("speech", "text"))
        if fusion:
            marks[fusion["name"]].append("best fusion")
        if single:
            marks[single["name"]].append("best single-modality")
        if fusion and single:
            a, b = stats[fusion["name"]]["ua"], stats[single["name"]]["ua"]
            verdict = "holds" if a - b >= CLAIM_MARGIN else "does not hold"
            partial = ("" if n_run == entry["folds_planned"]
                       else f" (on {n_run} of {entry['folds_planned']} folds only)")
            check = (f"Fusion check: best fusion `{fusion['name']}` UA {a:.1f} vs best "
                     f"single-modality `{single['name']}` UA {b:.1f}: {a - b:+.1f} points; "
                     f"the claim (fusion ≥ single + {CLAIM_MARGIN:g} UA) {verdict}{partial}.")
        else:
            check = ("Fusion check: not available (needs a fusion row and a single-modality row "
                     "finished on every fold run).")
    return marks, check


def dev_selected(entry: dict, family: str) -> dict | None:
    """A row whose fold k is the depscreen `family` configuration with the best dev UA on
    fold k (ties: the first in the table); test is only read after the choice. None unless
    every fold run has at least one such configuration with a dev UA."""
    cands = [r for r in sorted(entry["rows"], key=row_order)
             if r["source"] == "depscreen" and r["family"] == family]
    folds, picks = {}, []
    for k in map(str, entry["folds_run"]):
        done = [(r, r["folds"][k]) for r in cands
                if "dev_ua" in r["folds"].get(k, {}) and "error" not in r["folds"][k]]
        if not done:
            return None
        best_row, best = max(done, key=lambda rf: rf[1]["dev_ua"])  # max keeps the first tie
        folds[k] = {"ua": best["ua"], "f1_macro": best["f1_macro"], "pick": best_row["name"]}
        picks.append(best_row["name"])
    return {"name": f"{family}, chosen on dev per fold", "source": "depscreen",
            "modality": "any", "family": family, "folds": folds, "picks": picks}


MODALITY_ORDER = ("speech", "text", "fusion")


def row_order(row: dict) -> tuple:
    """Table order: by modality; depscreen's deep, then classical models, then references."""
    modality = row["modality"]
    return (MODALITY_ORDER.index(modality) if modality in MODALITY_ORDER else len(MODALITY_ORDER),
            row["source"] != "depscreen", row["family"] != "deep")


def task_table(entry: dict, heading: str = "##") -> str:
    """One task's section: title, command, date, corpus, table, fusion check."""
    rows = entry["rows"]
    marks, check = markers(entry)
    k, n_run = entry["folds_planned"], len(entry["folds_run"])
    corpus = entry["corpus"]
    per_class = ", ".join(f"{n} label {y}" for y, n in corpus["per_class"].items())
    lines = [
        f"{heading} {entry['task']}: {entry['title']}",
        "",
        f"- command: `{entry['command']}`",
        f"- date: {entry['date']}",
        f"- corpus: {corpus['sessions']} sessions ({per_class}), {corpus['groups']} "
        f"{corpus.get('group_name', 'groups')}" + (f"; {corpus['note']}" if corpus.get("note")
                                                   else ""),
        f"- protocol: {entry['protocol']}; folds run: {n_run} of {k}",
        "",
        "| config | modality | family | UA % | macro F1 % | folds | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=row_order):
        s = summarise(r)
        notes = [f"**{m}**" for m in marks[r["name"]]]
        if s["errors"]:
            first = next(iter(s["errors"].values()))
            notes.append(f"failed on {len(s['errors'])} fold(s): {_short(first)}")
        name = f"`{r['name']}`" + (" (reference)" if r["source"] == "reference" else "")
        lines.append(f"| {name} | {r['modality']} | {r['family']} | {_pm(s['ua'], s['ua_std'])} "
                     f"| {_pm(s['f1_macro'], s['f1_macro_std'])} | {s['n']}/{k} "
                     f"| {'; '.join(notes)} |")
    for family in ("deep", "classical"):
        sel = dev_selected(entry, family)
        if sel is None:
            continue
        s = summarise(sel)
        picked = ", ".join(f"{k}: `{p}`" for k, p in zip(entry["folds_run"], sel["picks"],
                                                           strict=True))
        lines.append(f"| *{sel['name']}* | any | {family} | {_pm(s['ua'], s['ua_std'])} "
                     f"| {_pm(s['f1_macro'], s['f1_macro_std'])} | {s['n']}/{k} "
                     f"| picked per fold: {picked} |")
    if check:
        lines += ["", check]
    return "\n".join(lines) + "\n"


PREAMBLE = """\
Participant-level UA (balanced accuracy) and macro F1 in %, mean ± sample std over the test
folds (one session is one clip, post or clip+post pair, so participant = session). Fold k:
test = fold k's groups, dev = fold k+1's, train = the rest; depscreen selects epochs and
thresholds on dev, the reference baselines (scikit-learn, in bench/real_data.py) choose C on
dev. `deep` rows are depscreen's neural models, `classical` rows logistic regressions.
The "best" marks are read off the test table; the *chosen on dev per fold* rows take, in each
fold, the depscreen configuration of that family with the best dev UA, so no choice among
the rows looks at test.
"""


def document(entries: list[dict], json_name: str) -> str:
    parts = ["# depscreen on real corpora (bench/real_data.py)", "", PREAMBLE,
             f"Per-fold numbers: `{json_name}`.", ""]
    for entry in entries:
        parts += [task_table(entry, "##"), ""]
    return "\n".join(parts).rstrip() + "\n"


def readme_block(entries: list[dict], json_path: str) -> str:
    parts = [PREAMBLE, f"Per-fold numbers: `{json_path}`.", ""]
    for entry in entries:
        parts += [task_table(entry, "####"), ""]
    return "\n".join(parts).rstrip() + "\n"


def atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


TASK_ORDER = ("speech", "text", "paired", "paired-short")


def merge(path: Path, entries: dict[str, dict]) -> dict[str, dict]:
    """The tasks stored in `path` (if any) with `entries` replacing those run now."""
    old: dict[str, dict] = {}
    if Path(path).is_file():
        try:
            stored = json.loads(Path(path).read_text())
            if stored.get("format") == FORMAT:
                old = stored.get("tasks", {})
        except (OSError, ValueError):
            old = {}
    merged = {**old, **entries}
    return {t: merged[t] for t in sorted(merged, key=lambda t: (TASK_ORDER + (t,)).index(t))}


def write_results(md_path: Path, json_path: Path, tasks: dict[str, dict]) -> None:
    atomic_write(json_path, json.dumps({"format": FORMAT, "tasks": tasks}, indent=1) + "\n")
    atomic_write(md_path, document(list(tasks.values()), json_path.name))


def update_readme(readme: Path, block: str) -> bool:
    """Replace what lies between the real-data markers; False (file untouched) without them."""
    text = Path(readme).read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0 or end < start:
        return False
    new = text[: start + len(README_START)] + "\n" + block + text[end:]
    if new != text:
        atomic_write(readme, new)
    return True
