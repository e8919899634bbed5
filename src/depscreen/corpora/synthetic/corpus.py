"""Generating a whole corpus (`generate_corpus`): prepare the output folder (new, resumable, or
replaced with ``force``), render the missing sessions in worker processes, then write the
split files and, last, the ground-truth sidecar whose presence means "complete".
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import shutil
import time
from pathlib import Path

from depscreen.corpora.synthetic.config import (
    CLEANING_RULE,
    DEFAULT_PROMPT_LEAK,
    FULL_TEST_HEADER,
    GENERATOR_VERSION,
    SIDECAR,
    SPLIT_FILES,
    STATE_DIR,
    TEST_HEADER,
    TRAIN_DEV_HEADER,
    SynthConfig,
    SynthSummary,
)
from depscreen.corpora.synthetic.plan import SessionPlan, plan_corpus
from depscreen.corpora.synthetic.truth import _read_json
from depscreen.corpora.synthetic.writer import (
    _dumps,
    _truth_path,
    _write_if_changed,
    build_session,
)
from depscreen.errors import ConfigError
from depscreen.utils.outputs import check_output_folder
from depscreen.utils.progress import progress_bar
from depscreen.utils.workers import exit_with_parent


def _fingerprint(config: SynthConfig) -> dict:
    return {"generator_version": GENERATOR_VERSION, "config": config.to_dict()}


def _with_defaults(fingerprint: dict | None) -> dict | None:
    """A recorded fingerprint with settings added since it was written filled in with the
    value that version behaved as (`prompt_leak` was a fixed 0.5), so a corpus made before a
    setting existed resumes under the default instead of being taken for another corpus."""
    if not isinstance(fingerprint, dict) or not isinstance(fingerprint.get("config"), dict):
        return fingerprint
    config = {"prompt_leak": DEFAULT_PROMPT_LEAK, **fingerprint["config"]}
    return {**fingerprint, "config": config}


def _is_ours(out: Path) -> bool:
    return (out / STATE_DIR).is_dir() or (out / SIDECAR).is_file()


def _clear(out: Path) -> None:
    """Remove what a previous generation wrote (only our own names)."""
    for p in out.iterdir():
        if re.fullmatch(r"\.?\d+_P(\.tmp-\d+)?", p.name) and p.is_dir():
            shutil.rmtree(p)
    for name in (*SPLIT_FILES.values(), SIDECAR):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)


def _prepare_out(out: Path, config: SynthConfig, force: bool) -> None:
    """Make `out` ready: new, resumable (same settings), or cleared with --force."""
    check_output_folder(out)  # the output policy: not a file, a device or a FIFO
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE_DIR / "config.json"
    if any(out.iterdir()):
        if not _is_ours(out):
            raise ConfigError(
                "folder is not empty and holds no depscreen synthetic corpus; choose an empty "
                "or new folder (nothing was changed)",
                out,
            )
        previous = _with_defaults(_read_json(state)) if state.is_file() else None
        if previous != _fingerprint(config):
            if not force:
                raise ConfigError(
                    "folder holds a synthetic corpus made with other settings or another "
                    "generator version; pass --force to replace it, or choose another --out",
                    out,
                )
            _clear(out)
        elif force:
            _clear(out)
    _write_if_changed(state, _dumps(_fingerprint(config)))
    _remove_leftovers(out)


def _remove_leftovers(out: Path) -> None:
    """Temporary folders and files of an interrupted run (all hidden, all ours)."""
    for folder in (out, out / STATE_DIR / "sessions"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if re.fullmatch(r"\.\d+_P\.tmp-\d+", p.name) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
                p.unlink(missing_ok=True)


def _session_done(out: Path, plan: SessionPlan) -> dict | None:
    folder = out / f"{plan.sid}_P"
    truth = _read_json(_truth_path(out, plan.sid))
    files = (folder / f"{plan.sid}_AUDIO.wav", folder / f"{plan.sid}_TRANSCRIPT.csv")
    if truth is None or not all(f.is_file() for f in files):
        return None
    return truth


def _split_files(plans: list[SessionPlan]) -> dict[str, str]:
    gender_code = {"male": 1, "female": 0}
    tables: dict[str, list[str]] = {
        "train": [",".join(TRAIN_DEV_HEADER)],
        "dev": [",".join(TRAIN_DEV_HEADER)],
        "test": [",".join(TEST_HEADER)],
        "full_test": [",".join(FULL_TEST_HEADER)],
    }
    for p in sorted(plans, key=lambda p: p.sid):
        g = gender_code[p.gender]
        if p.split == "test":
            tables["test"].append(f"{p.sid},{g}")
            tables["full_test"].append(f"{p.sid},{p.written_binary},{p.score},{g}")
        else:
            items = ",".join(str(v) for v in p.items)
            tables[p.split].append(f"{p.sid},{p.written_binary},{p.score},{g},{items}")
    return {SPLIT_FILES[k]: "\n".join(rows) + "\n" for k, rows in tables.items()}


def _pool_context() -> mp.context.BaseContext:
    # A fresh process per session: eSpeak's carried-over state would otherwise make a
    # session's audio depend on which sessions the same worker rendered before it. The fork
    # server imports our modules once (not eSpeak's state: it is initialised in the workers);
    # the package's import brings in this module, where the workers find `_build_task`.
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["depscreen.corpora.synthetic", "depscreen.corpora.tts", "soxr"])
        return ctx
    return mp.get_context("spawn")


def _build_task(args: tuple[str, SessionPlan, SynthConfig]) -> dict:
    out, plan, config = args
    return build_session(Path(out), plan, config)


def _run(
    out: Path, todo: list[SessionPlan], config: SynthConfig, jobs: int, progress: bool
) -> list[dict]:
    tasks = [(str(out), plan, config) for plan in todo]
    results: list[dict] = []
    if not tasks:
        return results
    with progress_bar(progress, len(tasks), "synthesizing interviews") as advance:
        pool = _pool_context().Pool(processes=min(jobs, len(tasks)), maxtasksperchild=1,
                                    initializer=exit_with_parent, initargs=(os.getpid(),))
        try:
            for truth in pool.imap_unordered(_build_task, tasks, chunksize=1):
                results.append(truth)
                advance()
            pool.close()
        finally:
            pool.terminate()
            pool.join()
    return results


def generate_corpus(
    out: Path,
    config: SynthConfig,
    jobs: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> SynthSummary:
    """Generate (or finish generating) the synthetic corpus in `out`.

    A re-run with the same settings resumes: complete sessions are kept, interrupted ones are
    redone. Other settings in a non-empty corpus folder raise `ConfigError` unless `force`.
    `jobs` = worker processes (default: the CPU count); the output does not depend on it.

    Sessions are rendered in worker processes started by multiprocessing's fork server (spawn
    where there is none), so a script calling this must guard its entry point with
    `if __name__ == "__main__":`, as multiprocessing requires.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    plans = plan_corpus(config)
    _prepare_out(out, config, force)
    truths: dict[int, dict] = {}
    todo: list[SessionPlan] = []
    for plan in plans:
        done = _session_done(out, plan)
        if done is not None:
            truths[plan.sid] = done
        else:
            todo.append(plan)
    for truth in _run(out, todo, config, jobs, progress):
        truths[truth["id"]] = truth
    for name, text in _split_files(plans).items():
        _write_if_changed(out / name, text)
    sidecar = {
        "generator": "depscreen.corpora.synthetic",
        "generator_version": GENERATOR_VERSION,
        "complete": True,
        "config": config.to_dict(),
        "seed": config.seed,
        "time_base": "audio seconds (transcript offsets already applied)",
        "cleaning": CLEANING_RULE,
        "split_files": SPLIT_FILES,
        "sessions": [truths[p.sid] for p in plans],
    }
    _write_if_changed(out / SIDECAR, _dumps(sidecar))  # last: its presence means complete
    splits = {s: sum(p.split == s for p in plans) for s in ("train", "dev", "test")}
    return SynthSummary(
        out=out,
        sessions=len(plans),
        generated=len(todo),
        skipped=len(plans) - len(todo),
        depressed=sum(p.label for p in plans),
        splits=splits,
        audio_seconds=float(sum(t["audio_seconds"] for t in truths.values())),
        seconds=time.perf_counter() - t0,
    )
