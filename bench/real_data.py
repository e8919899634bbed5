"""depscreen on two public corpora: RAVDESS speech and Reddit posts, with classical baselines.

    .venv/bin/python bench/real_data.py \\
        --ravdess /data/RAVDESS/Audio_Speech_Actors_01-24 \\
        --reddit /data/reddit/reddit_depression.csv --work /scratch/real [--jobs 2]

Tasks (--tasks):
  speech  RAVDESS audio-only speech: sad (1) vs neutral + calm (0), other emotions dropped;
          folds grouped by actor (--folds, default 6: 4 actors per fold).
  text    Reddit posts (clean_text, is_depression): random stratified folds (--text-folds,
          default 5); --reddit-max N subsamples (stratified, seeded).
  paired  pseudo-sessions: each RAVDESS clip with one Reddit post of the same label (each
          post used once, from --data-seed), audio + text in one session, grouped by actor.

For each fold the corpus is written as one depscreen manifest under --work (test = the
fold's groups, dev = the next fold's, train = the rest), prepared with `depscreen prepare`,
and every config of the task (CONFIGS below; --configs picks some, shell patterns allowed)
is trained with `depscreen train` and scored with `depscreen evaluate --split test`. The
reference baselines (scikit-learn, bench/real_data_lib/baselines.py) run on the same folds.
Runs are resumable: run the same command again and finished runs are reused, failed ones
retried. A failing config (e.g. an option this depscreen does not have yet) is recorded in
the table, with its log beside the run folder (WORK/TASK/foldK/runs/CONFIG/KEY.*.log).
A run folder is keyed by the config's model and flags, --epochs, --profile and --seed, not
by depscreen's code: after changing depscreen, delete WORK/TASK/foldK/runs/CONFIG to redo it.

Writes bench/results_real.md and bench/results_real.json (--out): each task's table is
that of the task's latest run (to rebuild a full table after running a few configs, run
them all: finished runs cost nothing), the tables of tasks not run now are kept. Runs
that do not cover every fold (--max-folds, --quick) write under --work instead unless
--out is given. --update-readme also replaces the block between
<!-- real-data:start --> and <!-- real-data:end --> in README.md (only if both exist).

    --quick     = --epochs 2 --max-folds 1 --reddit-max 600 (a smoke check)
    --list-configs  prints the configs and the tasks they apply to
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import os
import shlex
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from real_data_lib import baselines, corpora, report  # noqa: E402 - needs BENCH on sys.path
from real_data_lib.runner import (  # noqa: E402
    Config,
    Job,
    child_env,
    depscreen_command,
    prepare_fold,
    run_job,
)

TASKS = ("speech", "text", "paired", "paired-short")
PAIRED = ("paired", "paired-short")
S, T, PA = ("speech",), ("text",), PAIRED
SP, TX = (*S, *PAIRED), (*T, *PAIRED)
# The small-data recipe for frame models (profile `small`: SpecAugment, weight decay, patience
# 8, 40 epochs; per-speaker normalisation; mean pooling over a bidirectional LSTM's outputs),
# chosen on the dev split of the first RAVDESS fold only (README, "Real data").
SMALL = ["--profile", "small", "--feature-norm", "speaker",
         "--model-config", '{"pooling": "mean", "bidirectional": true}']
SMALL_EGEMAPS = ["--speech-features", "egemaps", *SMALL]

# NAME -> (tasks it applies to, depscreen model, CLI flags of `depscreen train`).
# On `paired`, the single-modality rows are the fusion models' branches (the paper's
# lstm-cnn-* and the classical *-lr models): the other speech variants would repeat the
# speech task (same clips, labels and folds).
CONFIGS: dict[str, tuple[tuple[str, ...], str, list[str]]] = {
    # --- the paper's models as published (log-Mel / word ids, per-session normalisation)
    "lstm-speech": (S, "lstm-speech", []),
    "cnn-speech": (S, "cnn-speech", []),
    "lstm-cnn-speech": (SP, "lstm-cnn-speech", []),
    "lstm-cnn-text": (TX, "lstm-cnn-text", []),
    "bilstm-cnn-fusion": (PA, "bilstm-cnn-fusion", []),
    "decision-fusion": (PA, "decision-fusion", []),
    # --- the same architectures over other representations / the small-data recipe
    "lstm-speech/egemaps": (S, "lstm-speech", ["--speech-features", "egemaps"]),
    "lstm-speech/egemaps/small": (SP, "lstm-speech", SMALL_EGEMAPS),
    "lstm-cnn-speech/small": (S, "lstm-cnn-speech", SMALL),
    "cnn-speech/egemaps/small": (S, "cnn-speech", [*SMALL_EGEMAPS[:-2], "--model-config",
                                                   '{"pooling": "mean"}']),
    "lstm-cnn-text/minilm": (TX, "lstm-cnn-text", ["--text-features", "minilm"]),
    "bilstm-text/minilm": (T, "bilstm-text", ["--text-features", "minilm"]),
    "bilstm-cnn-fusion/minilm": (PA, "bilstm-cnn-fusion", ["--text-features", "minilm"]),
    "bilstm-cnn-fusion/egemaps/minilm/small": (
        PA, "bilstm-cnn-fusion", ["--speech-features", "egemaps", "--text-features", "minilm",
                                  "--profile", "small", "--feature-norm", "speaker",
                                  "--model-config", '{"speech": {"pooling": "mean", '
                                  '"bidirectional": true}, "speech_model": "lstm-speech"}']),
    "decision-fusion/egemaps/minilm/small": (
        PA, "decision-fusion", ["--speech-features", "egemaps", "--text-features", "minilm",
                                "--profile", "small", "--feature-norm", "speaker",
                                "--model-config", '{"speech_model": "lstm-speech", "speech": '
                                '{"pooling": "mean", "bidirectional": true}}']),
    # --- classical baselines (registered depscreen models)
    "egemaps-lr": (SP, "egemaps-lr", []),
    "egemaps-lr/speaker-norm": (SP, "egemaps-lr", ["--feature-norm", "speaker"]),
    "tfidf-lr": (TX, "tfidf-lr", []),
    "embedding-lr": (TX, "embedding-lr", []),
    "stacked-fusion": (PA, "stacked-fusion", []),
    "stacked-fusion/minilm/speaker-norm": (
        PA, "stacked-fusion", ["--feature-norm", "speaker", "--model-config",
                               '{"text_model": "embedding-lr"}']),
}

# model -> (modality, family) of its rows. stacked-fusion is assumed to stack logistic
# regressions (it comes with egemaps-lr / tfidf-lr / embedding-lr); change it here if not.
MODEL_KIND = {
    "lstm-speech": ("speech", "deep"), "cnn-speech": ("speech", "deep"),
    "lstm-cnn-speech": ("speech", "deep"), "bilstm-text": ("text", "deep"),
    "lstm-cnn-text": ("text", "deep"), "bilstm-cnn-fusion": ("fusion", "deep"),
    "decision-fusion": ("fusion", "deep"), "egemaps-lr": ("speech", "classical"),
    "tfidf-lr": ("text", "classical"), "embedding-lr": ("text", "classical"),
    "stacked-fusion": ("fusion", "classical"),
}

TITLES = {
    "speech": "RAVDESS speech, sad vs neutral + calm",
    "text": "Reddit posts, depression vs not",
    "paired": "RAVDESS clip + Reddit post of the same label (pseudo-sessions)",
    "paired-short": "RAVDESS clip + the first words of a Reddit post of the same label",
}
DEFAULT_FOLDS, DEFAULT_TEXT_FOLDS = 6, 5
QUICK = {"epochs": 2, "max_folds": 1, "reddit_max": 600}


# ------------------------------------------------------------------------------ arguments
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--ravdess", type=Path, help="RAVDESS speech folder (Audio_Speech_Actors_01-24 "
                   "or any folder above the Actor_XX folders); needed by speech and paired")
    p.add_argument("--reddit", type=Path, help="Reddit CSV (clean_text, is_depression); "
                   "needed by text and paired")
    p.add_argument("--work", type=Path, default=BENCH / ".work" / "real",
                   help="manifests, prepared folders, runs, logs (default bench/.work/real)")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated: speech,text,paired")
    p.add_argument("--configs", default=None,
                   help="comma-separated config names or shell patterns, reference baselines "
                   "included (default: all; see --list-configs)")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                   help=f"folds of speech and paired, grouped by actor (default {DEFAULT_FOLDS})")
    p.add_argument("--text-folds", type=int, default=DEFAULT_TEXT_FOLDS,
                   help=f"folds of text, stratified (default {DEFAULT_TEXT_FOLDS})")
    p.add_argument("--max-folds", type=int, default=None,
                   help="run only the first N folds (a partial run: results go under --work)")
    p.add_argument("--reddit-max", type=int, default=None,
                   help="text task: at most N posts (stratified, seeded; default all)")
    p.add_argument("--paired-words", type=int, default=12,
                   help="paired-short task: words kept from the start of each post (default 12)")
    p.add_argument("--epochs", type=int, default=None,
                   help="depscreen train --epochs (default: the profile's)")
    p.add_argument("--profile", default="fast", help="depscreen train --profile (default fast)")
    p.add_argument("--seed", type=int, default=0, help="depscreen train --seed (default 0)")
    p.add_argument("--data-seed", type=int, default=0,
                   help="seed of the folds, the pairing and --reddit-max (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="depscreen runs at once (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="math threads per run (default: CPUs / jobs)")
    p.add_argument("--quick", action="store_true",
                   help="smoke check: --epochs 2 --max-folds 1 --reddit-max 600 unless given")
    p.add_argument("--out", type=Path, default=None,
                   help="markdown results (default bench/results_real.md; the JSON is written "
                   "beside it with the suffix .json)")
    p.add_argument("--update-readme", action="store_true",
                   help="replace the README block between the real-data markers")
    p.add_argument("--list-configs", action="store_true", help="print the configs and exit")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in args.tasks if t not in TASKS]
    if bad or not args.tasks:
        p.error(f"--tasks: unknown {', '.join(bad) or '(none given)'}; choose from {', '.join(TASKS)}")
    for name in ("folds", "text_folds"):
        if getattr(args, name) < 3:
            p.error(f"--{name.replace('_', '-')} must be at least 3 (test, dev and train folds)")
    if args.max_folds is not None and args.max_folds < 1:
        p.error("--max-folds must be at least 1")
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if {"speech", *PAIRED} & set(args.tasks) and not args.list_configs and args.ravdess is None:
        p.error("--ravdess is needed by the speech and paired tasks")
    if {"text", *PAIRED} & set(args.tasks) and not args.list_configs and args.reddit is None:
        p.error("--reddit is needed by the text and paired tasks")
    try:
        args.selected = select_configs(args.configs)
    except ValueError as e:
        p.error(str(e))
    args.partial = args.max_folds is not None and any(
        args.max_folds < (args.text_folds if t == "text" else args.folds) for t in args.tasks)
    if args.update_readme and args.partial:
        p.error("--update-readme needs every fold (drop --max-folds / --quick)")
    if args.out is None:
        args.out = (args.work / "results_real_partial.md") if args.partial else (
            BENCH / "results_real.md")
    return args


def all_row_names() -> list[str]:
    refs = [n for task in TASKS for n in baselines.REFERENCES[task]]
    return list(CONFIGS) + list(dict.fromkeys(refs))


def select_configs(spec: str | None) -> set[str]:
    """The row names chosen by --configs (names or shell patterns); ValueError on no match."""
    names = all_row_names()
    if not spec:
        return set(names)
    chosen: set[str] = set()
    for pattern in (s.strip() for s in spec.split(",")):
        if not pattern:
            continue
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ValueError(f"--configs: {pattern!r} matches no config; known: {', '.join(names)}")
        chosen.update(hits)
    return chosen


def list_configs() -> str:
    lines = [f"{'name':44} {'tasks':20} model + flags"]
    for name, (tasks, model, flags) in CONFIGS.items():
        lines.append(f"{name:44} {','.join(tasks):20} {' '.join([model, *flags])}")
    for task in TASKS:
        for name in baselines.REFERENCES[task]:
            lines.append(f"{name:44} {task:20} reference baseline (scikit-learn)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ corpora
class Corpora:
    """The corpora read once, shared by the tasks."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._ravdess: tuple | None = None
        self._reddit: tuple | None = None

    def ravdess(self):
        if self._ravdess is None:
            self._ravdess = corpora.read_ravdess(self.args.ravdess)
        return self._ravdess

    def reddit(self):
        if self._reddit is None:
            self._reddit = corpora.read_reddit(self.args.reddit)
        return self._reddit


def build_task(task: str, data: Corpora, args: argparse.Namespace) -> dict:
    """Items, folds, manifests (written under --work) and the corpus description of a task."""
    seed = args.data_seed
    if task == "speech":
        items, stats = data.ravdess()
        k, speaker = args.folds, "group"
        note = (f"{stats['clips_found']} audio-only speech clips found "
                f"({', '.join(f'{e} {n}' for e, n in stats['by_emotion'].items())}), "
                "sad = 1, neutral + calm = 0, others dropped")
        group_name, protocol = "actors", f"{k} folds grouped by actor (seed {seed})"
    elif task == "text":
        posts, stats = data.reddit()
        items = corpora.stratified_subsample(posts, args.reddit_max, seed)
        k, speaker = args.text_folds, "session"
        dropped = ", ".join(f"{n} {why}" for why, n in stats["dropped"].items()) or "none"
        note = (f"{stats['rows']} rows read, dropped: {dropped}"
                + (f"; stratified subsample of {len(items)} (--reddit-max {args.reddit_max})"
                   if len(items) < len(posts) else ""))
        group_name = "posts"
        protocol = f"{k} random stratified folds (seed {seed})"
    else:
        clips, _ = data.ravdess()
        posts, _ = data.reddit()
        items = corpora.pair_items(clips, posts, seed)
        k, speaker = args.folds, "group"
        note = (f"each clip of the speech task with a distinct Reddit post of its label "
                f"(pairing seed {seed}, drawn from all {len(posts)} usable posts)")
        if task == "paired-short":
            # A whole post is a long written text (MiniLM alone nears 100 % UA on it); the
            # first words are about one spoken answer, so neither channel is at its ceiling
            # and what fusion adds can show. Added after a one-fold trial of `paired`; N was
            # fixed before any paired-short run and not tuned.
            items = corpora.first_words(items, args.paired_words)
            note += f"; each post cut to its first {args.paired_words} words"
        group_name, protocol = "actors", f"{k} folds grouped by actor (seed {seed})"
    folds = corpora.assign_folds(items, k, seed)
    folder = args.work / task
    n_run = min(k, args.max_folds or k)
    manifests = []
    for fold in range(n_run):
        # In a folder of its own: a manifest's folder is a corpus root, which `prepare` and
        # `train` never write under; prepared/ and runs/ are its siblings.
        path = folder / f"fold{fold}" / "corpus" / "manifest.csv"
        rows = corpora.manifest_rows(items, folds, fold, k, speaker=speaker)
        corpora.write_if_changed(path, corpora.manifest_text(rows))
        manifests.append(path)
    if task in PAIRED:
        corpora.write_if_changed(folder / "pairs.csv", "session_id,clip,post\n" + "".join(
            f"{it.session_id},{it.parts[0]},{it.parts[1]}\n" for it in items))
    corpus = {**corpora.sizes(items, folds), "group_name": group_name, "note": note}
    if len(set(folds.values())) == k and len(folds) <= 100:  # actors: which are in each fold
        corpus["fold_groups"] = {str(f): sorted(g for g, x in folds.items() if x == f)
                                 for f in range(k)}
    return {"items": items, "folds": folds, "k": k, "n_run": n_run, "manifests": manifests,
            "corpus": corpus, "protocol": protocol}


# ------------------------------------------------------------------------------ main
class Progress:
    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.lock = threading.Lock()

    def line(self, text: str, count: bool = True) -> None:
        with self.lock:
            self.done += count
            el = int(time.monotonic() - self.start)
            stamp = f"{el // 3600:d}:{el // 60 % 60:02d}:{el % 60:02d}"
            where = f"[{self.done}/{self.total}]" if count else ""
            print(f"{stamp} {where} {text}".replace("  ", " "), flush=True)


def result_text(res: dict) -> str:
    if "error" in res:
        return f"FAILED {res['error']}"
    return f"UA {100 * res['ua']:.1f} F1 {100 * res['f1_macro']:.1f}"


def command_line() -> str:
    script = os.path.relpath(Path(sys.argv[0]).resolve(), REPO) if sys.argv else "real_data.py"
    return " ".join(shlex.quote(a) for a in ["python", script, *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_configs:
        print(list_configs())
        return 0
    args.work = args.work.expanduser().resolve()
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    env = child_env(threads)
    depscreen = depscreen_command()
    data = Corpora(args)

    plans: dict[str, dict] = {}
    for task in args.tasks:
        try:
            plans[task] = build_task(task, data, args)
        except corpora.CorpusProblem as e:
            print(f"error: {task}: {e}", file=sys.stderr)
            return 2
        c = plans[task]["corpus"]
        print(f"{task}: {c['sessions']} sessions ({', '.join(f'{n} label {y}' for y, n in c['per_class'].items())}), "
              f"{c['groups']} {c['group_name']}, {plans[task]['k']} folds "
              f"(running {plans[task]['n_run']}); manifests under {args.work / task}", flush=True)

    # Rows of each task: its configs, then its reference baselines.
    rows: dict[str, list[dict]] = {}
    jobs: list[Job] = []
    for task, plan in plans.items():
        rows[task] = []
        for name, (tasks, model, flags) in CONFIGS.items():
            if task not in tasks or name not in args.selected:
                continue
            modality, family = MODEL_KIND.get(model, ("fusion" if task in PAIRED else task, "deep"))
            rows[task].append({"name": name, "source": "depscreen", "modality": modality,
                               "family": family, "model": model, "flags": flags, "folds": {}})
            cfg = Config(name, tasks, model, tuple(flags))
            for fold in range(plan["n_run"]):
                jobs.append(Job(task, fold, cfg, args.work / task / f"fold{fold}" / "prepared",
                                args.work / task / f"fold{fold}" / "runs", args.epochs,
                                args.seed, args.profile))
        for name in baselines.REFERENCES[task]:
            if name in args.selected:
                rows[task].append({"name": name, "source": "reference",
                                   "modality": baselines.REFERENCE_MODALITY[name],
                                   "family": "classical", "model": name, "flags": [],
                                   "folds": {}})
    n_refs = sum(plan["n_run"] * sum(r["source"] == "reference" for r in rows[task])
                 for task, plan in plans.items())
    progress = Progress(len(jobs) + n_refs)
    row_of = {(task, r["name"]): r for task in rows for r in rows[task]}

    # 1. prepare every fold that has depscreen runs
    prepare_errors: dict[tuple[str, int], str] = {}
    for task, plan in plans.items():
        if not any(j.task == task for j in jobs):
            continue
        for fold, manifest in enumerate(plan["manifests"]):
            t0 = time.monotonic()
            err = prepare_fold(depscreen, manifest, manifest.parent.parent / "prepared",
                               args.work / task / "features", env)
            if err:
                prepare_errors[(task, fold)] = err
            progress.line(f"{task} fold {fold}: prepare {'FAILED ' + err if err else 'ok'} "
                          f"({time.monotonic() - t0:.0f} s)", count=False)

    # 2. reference baselines (in this process; cheap)
    for task, plan in plans.items():
        names = tuple(r["name"] for r in rows[task] if r["source"] == "reference")
        if not names:
            continue
        items = plan["items"]
        mfcc_cache: list = []

        def mfcc(items=items, cache=mfcc_cache):
            if not cache:
                path = args.work / "mfcc" / f"{baselines.cache_name(items)}.npz"
                cache.append(baselines.mfcc_features([it.audio for it in items], path))
            return cache[0]

        for fold in range(plan["n_run"]):
            t0 = time.monotonic()
            try:
                res = baselines.run_fold(task, items, plan["folds"], fold, plan["k"], names, mfcc)
            except Exception as e:  # recorded, not fatal
                res = {n: {"error": f"{type(e).__name__}: {e}"} for n in names}
            secs = time.monotonic() - t0
            for name, r in res.items():
                r["seconds"] = round(secs / len(res), 2)
                row_of[(task, name)]["folds"][str(fold)] = r
                progress.line(f"{task} fold {fold} {name}: {result_text(r)} ({secs:.1f} s "
                              f"for {len(res)} reference row(s))")

    # 3. depscreen runs
    def work(job: Job) -> dict:
        err = prepare_errors.get((job.task, job.fold))
        if err:
            return {"error": err, "seconds": 0.0}
        return run_job(job, depscreen, env)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(work, job): job for job in jobs}
        for fut in as_completed(futures):
            job, res = futures[fut], fut.result()
            row_of[(job.task, job.config.name)]["folds"][str(job.fold)] = res
            how = "reused" if res.get("reused") else f"{res.get('seconds', 0):.0f} s"
            progress.line(f"{job.task} fold {job.fold} {job.config.name}: {result_text(res)} ({how})")

    # 4. tables
    date = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    entries = {}
    for task, plan in plans.items():
        entries[task] = {
            "task": task, "title": TITLES[task], "command": command_line(), "date": date,
            "corpus": plan["corpus"], "protocol": plan["protocol"],
            "folds_planned": plan["k"], "folds_run": list(range(plan["n_run"])),
            "depscreen": {"profile": args.profile, "epochs": args.epochs, "seed": args.seed},
            "rows": rows[task],
        }
    out_md = args.out.expanduser().resolve()
    out_json = out_md.with_suffix(".json")
    tasks = report.merge(out_json, entries)
    report.write_results(out_md, out_json, tasks)
    for task in entries:
        print()
        print(report.task_table(entries[task], "##"))
    print(f"wrote {out_md} and {out_json.name}")
    if args.update_readme:
        readme = REPO / "README.md"
        json_rel = os.path.relpath(out_json, REPO)
        if report.update_readme(readme, report.readme_block(list(tasks.values()), json_rel)):
            print(f"updated {readme}")
        else:
            print(f"{readme}: no {report.README_START} ... {report.README_END} block; "
                  "README left unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
