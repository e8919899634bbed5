"""The depscreen benchmark suite (issue #6): what a ~50-hour corpus and many retrainings cost.

    bash dev.sh bench                                # the whole suite + README table (~20 min)
    .venv/bin/python bench/run.py                    # the whole suite, README untouched
    .venv/bin/python bench/run.py --quick            # tiny sizes: a smoke check (~2 min)
    .venv/bin/python bench/run.py --only logmel,predict
    .venv/bin/python bench/run.py --readme-only      # README table from bench/results.md

Stages (`--only` names): logmel, predict, serve, scaling, training, epoch, reproduce. Each
measurement runs in a fresh process (`suite.common.run_stage`) so its timings and peak memory
are its own; single-core figures pin that process to one CPU with one thread per math
library. Every figure is the median of several runs (the n column; the n=1 figures say so),
and where the issue names a reference it is measured in the same process, interleaved.

A full run writes bench/results.json (machine, every value of every run, targets) and
bench/results.md (the table); --quick and --only write them under the work folder instead,
so a partial or tiny run never replaces the full one. Generated corpora, caches and logs go to
--work (default bench/.work/, git-ignored) and are reused by later runs; synthesis is never
part of a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from suite.common import (  # noqa: E402 - needs the bench folder on sys.path
    REPO,
    StageFailed,
    load_average,
    machine_info,
    median,
    rounded,
    run_command,
    run_stage,
)

STAGES = ("logmel", "predict", "serve", "scaling", "training", "epoch", "reproduce")
README_BEGIN = "<!-- bench:begin -->"
README_END = "<!-- bench:end -->"
FULL_COMMAND = "bash dev.sh bench"


@dataclass
class Plan:
    """Sizes and repeat counts of one suite run."""

    minutes: float  # interview length of the corpora and of the predict interview
    sizes: list[int]  # participants per scaling corpus; the largest is the training corpus
    logmel_seconds: float
    logmel_repeats: int
    predict_repeats: int
    scaling_repeats: int
    train_warmup: int
    train_batches: int
    train_repeats: int
    epoch_repeats: int
    epoch_train_repeats: int
    reproduce_args: list[str] = field(default_factory=list)
    models: list[str] | None = None  # None: every registered model
    epoch_model: str = "bilstm-cnn-fusion"


FULL = Plan(minutes=16, sizes=[50, 100, 189], logmel_seconds=900, logmel_repeats=7,
            predict_repeats=7, scaling_repeats=3, train_warmup=5, train_batches=30,
            train_repeats=5, epoch_repeats=1, epoch_train_repeats=1)
QUICK = Plan(minutes=1, sizes=[5, 10], logmel_seconds=30, logmel_repeats=3, predict_repeats=3,
             scaling_repeats=2, train_warmup=1, train_batches=3, train_repeats=2,
             epoch_repeats=1, epoch_train_repeats=1,
             reproduce_args=["--participants", "10", "--seeds", "1", "--epochs", "1",
                             "--models", "lstm-cnn-text,lstm-cnn-speech,decision-fusion"])

# ----------------------------------------------------------------------------- targets
LOGMEL_MIN_X = 3000.0
PREDICT_MAX_S = 3.0
PREDICT_MAX_MIB = 1024.0
SERVE_MAX_S = 3.0
REPRODUCE_MAX_S = 15 * 60.0
LINEAR_SLACK = 1.25  # "roughly linear": time per participant grows by at most 25 %
FLAT_SLACK = 1.25  # "flat": peak memory grows by at most 25 %


# ----------------------------------------------------------------------------- results
def measurement(id_: str, what: str, unit: str, values: list[float], *, target: str | None = None,
                met: bool | None = None, reference: dict | None = None, ratio: float | None = None,
                note: str = "", extra: dict | None = None, better: str = "higher") -> dict:
    values = [float(v) for v in values]
    return {
        "id": id_, "what": what, "unit": unit, "n": len(values),
        "median": median(values) if values else None, "values": [rounded(v, 6) for v in values],
        "better": better, "reference": reference, "ratio": ratio,
        "target": None if target is None else {"text": target, "met": met},
        "note": note, **({"extra": extra} if extra else {}),
    }


def _paired_ratio(ref: list[float], ours: list[float]) -> float:
    """Median over repeats of reference time / our time (repeats were interleaved)."""
    return median([r / o for r, o in zip(ref, ours, strict=True)])


def build_logmel(raw: dict, plan: Plan) -> list[dict]:
    secs, t = raw["seconds"], raw["times_s"]
    minutes = f"{secs / 60:g}-min" if secs >= 60 else f"{secs:g}-s"
    out = []
    for key, label, ref_label in (
        ("", "samples in memory", "`librosa.feature.melspectrogram` + `power_to_db`"),
        ("_file", "WAV file → features (decode included)",
         "`librosa.load` + `melspectrogram` + `power_to_db`"),
    ):
        ours = [secs / x for x in t[f"ours{key}"]]
        ref = [secs / x for x in t[f"ref{key}"]]
        ratio = _paired_ratio(t[f"ref{key}"], t[f"ours{key}"])
        x = median(ours)
        out.append(measurement(
            f"logmel{key}", f"log-Mel of a {minutes} 16 kHz interview, one core, {label}",
            "× real time", ours, reference={"what": ref_label, "median": median(ref),
                                            "values": [rounded(v, 6) for v in ref]},
            ratio=ratio, target=f"≥ {LOGMEL_MIN_X:,.0f}× and ≥ reference",
            met=x >= LOGMEL_MIN_X and ratio >= 1.0,
            note=(f"max |difference| to the reference {raw['max_abs_diff_db']:.1e} dB"
                  if not key else "")))
    return out


def build_predict(raw: dict, measured: dict, plan: Plan) -> list[dict]:
    minutes = raw["duration_s"] / 60
    out = []
    for case, times in raw["cases"].items():
        main = case == "audio+transcript"
        out.append(measurement(
            f"predict.{case}", f"`predict`, {minutes:.1f}-min interview, {case}, one core, "
            "model loaded", "s", times, better="lower",
            target=f"< {PREDICT_MAX_S:g} s" if main else None,
            met=median(times) < PREDICT_MAX_S if main else None,
            note=(f"{raw['samples']} samples; {raw['model_source']} {raw['model']} "
                  f"(timing does not depend on the weights); load {raw['load_s']:.2f} s"
                  if main else "")))
    rss = measured["peak_rss_mib"]
    out.append(measurement(
        "predict.peak_rss", "`predict` process peak resident memory (load + all the calls above)",
        "MiB", [rss], better="lower", target=f"< {PREDICT_MAX_MIB:,.0f} MiB",
        met=rss < PREDICT_MAX_MIB))
    return out


def build_serve(raw: dict, measured: dict, minutes: float) -> list[dict]:
    times = raw["times_s"]
    return [measurement(
        "serve.upload", f"`depscreen serve`: upload of a {minutes:g}-min interview (WAV + "
        "transcript) to the answer's last byte (the page, recording embedded), one core, "
        "model loaded", "s", times, better="lower", target=f"< {SERVE_MAX_S:g} s",
        met=median(times) < SERVE_MAX_S,
        note=(f"upload {raw['upload_bytes'] / 1024**2:.0f} MiB, page "
              f"{raw['answer_bytes'] / 1024**2:.0f} MiB; {raw['model']} random-initialised; "
              f"uvicorn on 127.0.0.1; files left in the upload folder: {raw['left_behind']}; "
              f"peak RSS {measured['peak_rss_mib']:,.0f} MiB"))]


def build_scaling(runs: dict[int, list[tuple[dict, dict]]], plan: Plan) -> list[dict]:
    out = []
    med_t, med_m = {}, {}
    for n, reps in sorted(runs.items()):
        raw0 = reps[0][0]
        times = [r["total_s"] for r, _ in reps]
        mem = [m["peak_pss_mib"] or m["peak_rss_mib"] for _, m in reps]
        med_t[n], med_m[n] = median(times), median(mem)
        hours = raw0["audio_hours"]
        parts = {k: median([r[k] for r, _ in reps]) for k in ("prepare_s", "features_s",
                                                             "samples_s")}
        out.append(measurement(
            f"scaling.time.{n}", f"prepare + features, {n} participants × {plan.minutes:g} min "
            f"({hours:.1f} h of audio, {raw0['speech_hours']:.1f} h participant speech)", "s",
            times, better="lower",
            note=(f"prepare {parts['prepare_s']:.1f} s, log-Mel {parts['features_s']:.1f} s, "
                  f"samples {parts['samples_s']:.1f} s; {median(times) / hours:.1f} s per "
                  f"audio hour; {raw0['samples']:,} samples; cache {raw0['cache_mib']:,.0f} MiB"),
            extra={"raw": [r for r, _ in reps], "measured": [m for _, m in reps]}))
        out.append(measurement(
            f"scaling.memory.{n}", f"prepare + features, {n} participants: peak memory "
            "(PSS summed over the process and its workers)", "MiB", mem, better="lower",
            note=f"largest single process {median([m['peak_rss_mib'] for _, m in reps]):,.0f} "
                 "MiB RSS"))
    if len(med_t) >= 2:
        lo, hi = min(med_t), max(med_t)
        size_ratio = hi / lo
        t_ratio = med_t[hi] / med_t[lo]
        m_ratio = med_m[hi] / med_m[lo]
        out.append(measurement(
            "scaling.time_growth", f"time growth {lo} → {hi} participants "
            f"(linear = {size_ratio:.2f})", "ratio", [t_ratio], better="lower",
            target=f"≤ {LINEAR_SLACK:g} × linear", met=t_ratio <= LINEAR_SLACK * size_ratio,
            note=f"{t_ratio / size_ratio:.2f} × linear (ratio of medians)"))
        out.append(measurement(
            "scaling.memory_growth", f"peak memory growth {lo} → {hi} participants",
            "ratio", [m_ratio], better="lower", target=f"≤ {FLAT_SLACK:g} (flat)",
            met=m_ratio <= FLAT_SLACK, note="ratio of medians"))
    return out


def build_training(results: list[tuple[dict, dict]], plan: Plan) -> list[dict]:
    out = []
    for raw, measured in results:
        runs = raw["runs"]
        frames = sum(r["frames"] for r in runs)
        padded = sum(r["padded_frames"] for r in runs)
        load = sum(r["load_s"] for r in runs) / sum(r["wall_s"] for r in runs)
        ups = median(raw["utt_per_s"])
        out.append(measurement(
            f"training.{raw['model']}", f"training throughput, `{raw['model']}`, batch "
            f"{raw['batch_size']}, one thread", "utt/s", raw["utt_per_s"],
            note=(f"{runs[0]['batches']} batches per run; loader {load:.0%} of the time; "
                  f"padding {padded / max(frames, 1) - 1:.0%} extra frames; an epoch of "
                  f"{raw['train_samples']:,} samples ≈ {raw['train_samples'] / ups:.0f} s; "
                  f"peak RSS {measured['peak_rss_mib']:,.0f} MiB")))
    return out


def build_epoch(raw: dict, measured: dict, plan: Plan, n: int) -> list[dict]:
    out = [measurement(
        "epoch.loop", f"one `paper` epoch of `{raw['model']}` (batch {raw['batch_size']}), "
        f"{n}-participant train split ({raw['train_samples']:,} samples), one thread: "
        "training steps", "s", raw["epoch_s"], better="lower",
        note=f"× 300 epochs ≈ {median(raw['epoch_s']) * 300 / 3600:.1f} h")]
    if raw["train_call_s"]:
        out.append(measurement(
            "epoch.train", f"`train(profile='paper', max_epochs=1)` of `{raw['model']}` from a "
            "fresh run folder: build data + the epoch + dev scoring + writes", "s",
            raw["train_call_s"], better="lower",
            note=f"{raw['dev_samples']:,} dev samples; peak RSS "
                 f"{measured['peak_rss_mib']:,.0f} MiB"))
    return out


def build_reproduce(measured: dict, args: list[str]) -> list[dict]:
    wall = measured["wall_s"]
    command = " ".join(["depscreen reproduce --profile fast", *args])
    return [measurement(
        "reproduce", f"`{command}` end to end, from nothing (corpus synthesis included)",
        "s", [wall],
        better="lower", target=f"< {REPRODUCE_MAX_S / 60:g} min", met=wall < REPRODUCE_MAX_S,
        note=(f"peak memory {measured['peak_pss_mib'] or measured['peak_rss_mib']:,.0f} MiB PSS "
              f"over {measured['max_processes'] or '?'} processes"))]


# ----------------------------------------------------------------------------- the markdown
def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        if v >= 100:
            m, s = divmod(round(v), 60)
            return f"{m} min {s:02d} s"
        return f"{v:.3g} s" if v < 10 else f"{v:.1f} s"
    if unit == "× real time":
        return f"{v:,.0f}×"
    if unit in ("MiB", "utt/s"):
        return f"{v:,.0f} {unit}"
    if unit == "ratio":
        return f"{v:.2f}"
    return f"{v:.4g} {unit}"


def markdown(results: dict) -> str:
    m = results["machine"]
    v = m["versions"]
    commit = (m["git_commit"] or "?")[:10] + (" (uncommitted changes)" if m["git_dirty"] else "")
    lines = [
        f"Measured {m['date_utc']} by `{results['command']}` (commit {commit}) on "
        f"{m['cpu']}, {m['usable_cpus']} CPU cores, {m['ram_gib']} GiB RAM, no GPU; "
        f"Python {v['python']}, torch {v['torch']}, numpy {v['numpy']}, librosa {v['librosa']}. "
        f"Load average at start {m['load_average_at_start']}; suite took "
        f"{fmt(results['duration_s'], 's')}.",
        "",
        "| measurement | median | n | reference (median) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["measurements"]:
        ref = r["reference"]
        ref_txt = f"{ref['what']}: {fmt(ref['median'], r['unit'])}" if ref else ""
        ratio = f"{r['ratio']:.2f}× faster" if r["ratio"] is not None else ""
        tgt = r["target"]
        met = "" if tgt is None else ("yes" if tgt["met"] else "**no**")
        what = (r["what"] + (f" — {r['note']}" if r["note"] else "")).replace("|", "\\|")
        lines.append(f"| {what} | {fmt(r['median'], r['unit'])} | {r['n']} | {ref_txt} | "
                     f"{ratio} | {tgt['text'] if tgt else ''} | {met} |")
    for name, err in results.get("errors", {}).items():
        lines.append(f"| stage `{name}` failed: {err.splitlines()[0]} | | | | | | **no** |")
    return "\n".join(lines) + "\n"


def update_readme(md: str, readme: Path = REPO / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"README.md has no {README_BEGIN} ... {README_END} markers")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_BEGIN}\n{md}{README_END}{tail}", encoding="utf-8")


# ----------------------------------------------------------------------------- the suite
class Suite:
    def __init__(self, plan: Plan, work: Path, only: set[str], quick: bool):
        self.plan, self.work, self.only, self.quick = plan, work, only, quick
        self.measurements: list[dict] = []
        self.stages: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self._setup: dict[str, dict] = {}

    def say(self, msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def stage(self, name: str, params: dict, one_core: bool = False) -> tuple[dict, dict]:
        t0 = time.perf_counter()
        load = load_average()
        raw, measured = run_stage(name, params, self.work, one_core=one_core)
        tag = params.get("tag", name)
        self.stages[tag] = {**measured, "load_average_before": load,
                            "load_average_after": load_average()}
        self.say(f"  {tag}: {time.perf_counter() - t0:.1f} s, peak RSS "
                 f"{measured['peak_rss_mib']:.0f} MiB")
        return raw, measured

    # --- set-up (untimed) -------------------------------------------------------------
    def corpus_roots(self) -> dict[int, Path]:
        if "corpus" not in self._setup:
            p = self.plan
            self.say(f"set-up: synthetic corpus {max(p.sizes)} × {p.minutes:g} min "
                     "(generated once, cached in the work folder; not measured)")
            raw, _ = self.stage("setup_corpus", {"tag": "setup-corpus", "work": self.work,
                                                 "participants": max(p.sizes),
                                                 "minutes": p.minutes, "subsets": p.sizes})
            self._setup["corpus"] = {int(k): Path(v) for k, v in raw["roots"].items()}
        return self._setup["corpus"]

    def interview(self) -> dict:
        if "interview" not in self._setup:
            p = self.plan
            self.say(f"set-up: one {p.minutes:g}-min synthetic interview (cached; not measured)")
            raw, _ = self.stage("setup_interview", {"tag": "setup-interview", "work": self.work,
                                                    "minutes": p.minutes,
                                                    "clip_seconds": p.logmel_seconds})
            self._setup["interview"] = raw
        return self._setup["interview"]

    def prepared(self) -> Path:
        """The largest corpus prepared with its feature cache (reuses the scaling output)."""
        if "prepared" not in self._setup:
            n = max(self.plan.sizes)
            out = self.work / "scaling" / f"n{n}" / "prepared"
            self.say(f"set-up: prepared {n}-participant corpus + log-Mel cache (not measured)")
            self.stage("setup_prepared", {"tag": "setup-prepared",
                                          "root": self.corpus_roots()[n], "out": out})
            self._setup["prepared"] = out
        return self._setup["prepared"]

    # --- stages -------------------------------------------------------------------------
    def run_logmel(self) -> None:
        iv = self.interview()
        self.say(f"logmel: {self.plan.logmel_seconds:g} s of audio, {self.plan.logmel_repeats} "
                 "interleaved repeats, one core")
        raw, _ = self.stage("logmel", {"wav": iv["clip"], "repeats": self.plan.logmel_repeats},
                            one_core=True)
        self.measurements += build_logmel(raw, self.plan)

    def run_predict(self, model: Path | None) -> None:
        iv = self.interview()
        self.say(f"predict: {self.plan.predict_repeats} repeats per case, one core")
        raw, measured = self.stage("predict", {
            "audio": iv["audio"], "transcript": iv["transcript"], "repeats":
            self.plan.predict_repeats, "model": str(model) if model else None}, one_core=True)
        self.measurements += build_predict(raw, measured, self.plan)

    def run_serve(self) -> None:
        iv = self.interview()
        self.say(f"serve: {self.plan.predict_repeats} uploads to the app, one core")
        raw, measured = self.stage("serve", {
            "audio": iv["audio"], "transcript": iv["transcript"],
            "repeats": self.plan.predict_repeats}, one_core=True)
        self.measurements += build_serve(raw, measured, self.plan.minutes)

    def run_scaling(self) -> None:
        roots = self.corpus_roots()
        p = self.plan
        self.say(f"scaling: prepare + features for {p.sizes} participants, "
                 f"{p.scaling_repeats} repeats each, from nothing")
        runs: dict[int, list] = {n: [] for n in p.sizes}
        for r in range(p.scaling_repeats):  # sizes interleaved, so drift hits them alike
            for n in p.sizes:
                out = self.work / "scaling" / f"n{n}" / "prepared"
                runs[n].append(self.stage("prepare_features", {
                    "tag": f"scaling-n{n}-r{r}", "root": roots[n], "out": out}))
        self._setup["prepared"] = self.work / "scaling" / f"n{max(p.sizes)}" / "prepared"
        for n in p.sizes[:-1]:  # only the largest is reused (training); free the disk
            shutil.rmtree(self.work / "scaling" / f"n{n}", ignore_errors=True)
        self.measurements += build_scaling(runs, p)

    def run_training(self) -> None:
        from depscreen.models import list_models, model_class

        def trains_by_gradient(name: str) -> bool:
            # Classical baselines are fitted in one go (no training steps to time); a
            # decision-level model counts when its sub-models train by gradient.
            cls = model_class(name)
            if cls.fitting == "decision":
                return all(trains_by_gradient(getattr(cls.config_cls, f"{m}_model"))
                           for m in ("text", "speech"))
            return cls.fitting == "gradient"

        prepared = self.prepared()
        models = self.plan.models or [m for m in list_models() if trains_by_gradient(m)]
        p = self.plan
        self.say(f"training: {len(models)} models, {p.train_batches} batches × "
                 f"{p.train_repeats} repeats each, one thread")
        results = []
        for model in models:
            results.append(self.stage("train_throughput", {
                "tag": f"train-{model}", "prepared": prepared, "model": model,
                "profile": "paper", "warmup": p.train_warmup, "batches": p.train_batches,
                "repeats": p.train_repeats}, one_core=True))
        self.measurements += build_training(results, p)

    def run_epoch(self) -> None:
        prepared = self.prepared()
        p = self.plan
        self.say(f"epoch: one paper epoch of {p.epoch_model} (n={p.epoch_repeats}) and "
                 f"train(max_epochs=1) (n={p.epoch_train_repeats}), one thread")
        raw, measured = self.stage("paper_epoch", {
            "tag": "paper-epoch", "prepared": prepared, "model": p.epoch_model,
            "repeats": p.epoch_repeats, "train_repeats": p.epoch_train_repeats,
            "out": self.work / "epoch-runs"}, one_core=True)
        self.measurements += build_epoch(raw, measured, p, max(p.sizes))

    def run_reproduce(self) -> None:
        base = self.work / "reproduce"
        shutil.rmtree(base, ignore_errors=True)  # from nothing: no corpus, no cache, no runs
        base.mkdir(parents=True)
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).with_name("depscreen")
        cmd = ([str(exe)] if exe.is_file() else
               [sys.executable, "-c", "from depscreen.cli import main; main()"])
        args = ["--profile", "fast", *self.plan.reproduce_args]
        cmd += ["reproduce", *args, "--root", str(base / "synthetic"), "--out", str(base / "out"),
                "--quiet"]
        self.say("reproduce: " + " ".join(cmd[-len(args) - 6:]) + " (n=1)")
        load = load_average()
        # 3x the target: a run that slow has missed it anyway, and the suite must finish.
        measured = run_command(cmd, log=self.work / "logs" / "reproduce.log",
                               timeout=3 * REPRODUCE_MAX_S)
        self.stages["reproduce"] = {**measured, "load_average_before": load,
                                    "load_average_after": load_average()}
        if measured["returncode"] != 0:
            tail = (self.work / "logs" / "reproduce.log").read_text().splitlines()[-25:]
            why = ("timed out after 45 min" if measured["timed_out"]
                   else f"exited {measured['returncode']}")
            raise StageFailed(f"reproduce {why}:\n" + "\n".join(tail))
        self.say(f"  reproduce: {measured['wall_s']:.0f} s")
        self.measurements += build_reproduce(measured, self.plan.reproduce_args)
        shutil.rmtree(base / "synthetic", ignore_errors=True)  # 1+ GB of WAVs: not needed again


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:8]))
    ap.add_argument("--only", help=f"comma-separated stages: {', '.join(STAGES)}")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke check")
    ap.add_argument("--work", type=Path, default=BENCH / ".work",
                    help="scratch folder for corpora, caches, logs (default bench/.work)")
    ap.add_argument("--results", type=Path, default=None,
                    help="folder for results.json/.md (default: bench/ for a full run, the "
                         "work folder for --quick/--only)")
    ap.add_argument("--sizes", help="participants per scaling corpus, e.g. 50,100,189")
    ap.add_argument("--models", help="comma-separated models for the training stage")
    ap.add_argument("--predict-model", type=Path, default=None,
                    help="run folder or .dsb for the predict stage (default: a randomly "
                         "initialised decision-fusion; timing does not depend on the weights)")
    ap.add_argument("--update-readme", action="store_true",
                    help="after a full run, put its table between the README's bench markers")
    ap.add_argument("--readme-only", action="store_true",
                    help="only copy bench/results.md into the README; run nothing")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        from suite.stages import run_child

        params = json.loads(args.params.read_text())
        result = run_child(args.child, params)
        tmp = args.result.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1, default=str))
        os.replace(tmp, args.result)
        return 0

    if args.readme_only:
        if not (BENCH / "results.md").is_file():
            ap.error("no bench/results.md yet: run the full suite first")
        update_readme((BENCH / "results.md").read_text(encoding="utf-8"))
        print("README.md: table replaced with bench/results.md")
        return 0

    only = set(STAGES) if not args.only else {s.strip() for s in args.only.split(",")}
    unknown = only - set(STAGES)
    if unknown:
        ap.error(f"unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    plan = QUICK if args.quick else FULL
    if args.sizes:
        plan.sizes = sorted({int(x) for x in args.sizes.split(",")})
    if args.models:
        plan.models = [m.strip() for m in args.models.split(",")]
    partial = args.quick or only != set(STAGES) or args.sizes or args.models
    if args.update_readme and partial:
        ap.error("--update-readme needs a full run (no --quick, --only, --sizes or --models)")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results_dir = (args.results or (work if partial else BENCH)).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)

    command = FULL_COMMAND if (args.update_readme and not partial) else (
        "python bench/run.py " + " ".join(sys.argv[1:])).strip()
    suite = Suite(plan, work, only, args.quick)
    started = time.perf_counter()
    info = machine_info()
    suite.say(f"{info['cpu']}, {info['usable_cpus']} cores, {info['ram_gib']} GiB; load "
              f"{info['load_average_at_start']}; work folder {work}")
    for name in STAGES:
        if name not in only:
            continue
        try:
            if name == "predict":
                suite.run_predict(args.predict_model)
            else:
                getattr(suite, f"run_{name}")()
        except Exception as e:  # noqa: BLE001 - one failed stage must not lose the others
            suite.errors[name] = str(e)
            suite.say(f"stage {name} FAILED: {e}")
            if not isinstance(e, StageFailed):
                traceback.print_exc()
    info["load_average_at_end"] = load_average()
    results = {
        "format": 1,
        "suite": "depscreen bench (issue #6)",
        "command": command,
        "quick": args.quick,
        "stages_run": [s for s in STAGES if s in only],
        "plan": plan.__dict__,
        "machine": info,
        "definitions": {
            "median": "median of the n values in `values`, each from one repeat",
            "one core": "the stage process pinned to one CPU, one thread for torch, BLAS and "
                        "OpenMP",
            "ratio": "median over repeats of (reference time / our time), repeats interleaved "
                     "in one process",
            "peak memory": "scaling and reproduce: peak PSS summed over the process tree "
                           "(sampled every 0.1 s); predict and the stages' peak_rss_mib: the "
                           "largest single process's peak RSS (wait4 ru_maxrss)",
        },
        "duration_s": round(time.perf_counter() - started, 1),
        "measurements": suite.measurements,
        "stages": suite.stages,
        "errors": suite.errors,
    }
    (results_dir / "results.json").write_text(
        json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    md = markdown(results)
    (results_dir / "results.md").write_text(md, encoding="utf-8")
    print()
    print(md)
    print(f"wrote {results_dir / 'results.json'} and {results_dir / 'results.md'}")
    if args.update_readme:
        update_readme(md)
        print("README.md: Performance table replaced")
    missed = [r["id"] for r in suite.measurements if r["target"] and not r["target"]["met"]]
    if missed:
        print("targets missed: " + ", ".join(missed))
    return 1 if suite.errors else 0


if __name__ == "__main__":
    sys.exit(main())
