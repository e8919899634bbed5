"""The measurements. Each `stage_*` runs in a fresh process started by `run.py` (`--child`),
reads its parameters from a dict and returns a JSON-ready dict of raw numbers; `run.py` turns
them into the table. Repeats are interleaved with their reference where there is one, so a
slow spell on a shared machine hits both sides alike.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from suite.common import pin_to_one_core, timed


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


# ----------------------------------------------------------------------------- log-Mel
def stage_logmel(p: dict) -> dict:
    """log-Mel of one file vs the librosa reference, one core.

    compute: `logmel(y)` vs `melspectrogram` + `power_to_db` on the decoded samples;
    file: decode + log-Mel (`load_audio` + `logmel`) vs `librosa.load` + the reference.
    """
    import librosa
    import numpy as np
    from bench_logmel import reference

    from depscreen.audio import load_audio
    from depscreen.features.audio import LogMelConfig, logmel

    cfg = LogMelConfig()
    wav = p["wav"]
    y, _ = load_audio(wav, sr=cfg.sample_rate)
    seconds = y.size / cfg.sample_rate

    def ours_file():
        return logmel(load_audio(wav, sr=cfg.sample_rate)[0], cfg)

    def ref_file():
        yy, _ = librosa.load(wav, sr=cfg.sample_rate, mono=True)
        return reference(yy, cfg)

    ours, ref = logmel(y, cfg), reference(y, cfg)  # warm-up: filterbank caches, FFT plans
    ours_file(), ref_file()
    times: dict[str, list[float]] = {"ours": [], "ref": [], "ours_file": [], "ref_file": []}
    for _ in range(p["repeats"]):
        times["ref"].append(timed(lambda: reference(y, cfg)))
        times["ours"].append(timed(lambda: logmel(y, cfg)))
        times["ref_file"].append(timed(ref_file))
        times["ours_file"].append(timed(ours_file))
    return {
        "seconds": seconds,
        "times_s": times,
        "max_abs_diff_db": float(np.abs(ours - ref).max()),
        "frames": int(ours.shape[0]),
    }


# ----------------------------------------------------------------------------- prepare + features
def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def stage_prepare_features(p: dict) -> dict:
    """prepare + log-Mel cache + samples (vocabulary, tokens) of a corpus, from nothing.

    This is what `depscreen reproduce` / `train` do before the first epoch: `prepare`, then
    `extract_corpus` over every session (one worker process per core), then the vocabulary
    from train and every split's samples with their token ids.
    """
    from depscreen.corpora.prepare import prepare
    from depscreen.corpora.records import SPLITS
    from depscreen.features.audio import LogMelConfig
    from depscreen.features.cache import extract_corpus
    from depscreen.features.dataset import build_samples
    from depscreen.features.text import TextConfig, build_vocabulary

    out = Path(p["out"])
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = prepare("daic-woz", Path(p["root"]), out, progress=False)
    t1 = time.perf_counter()
    cfg = LogMelConfig()
    ext = extract_corpus(res.corpus, cfg, out / "features", progress=False, jobs=p.get("jobs"))
    t2 = time.perf_counter()
    text_cfg = TextConfig()
    vocab = build_vocabulary(res.corpus, text_cfg.min_count, text_cfg.max_size)
    n_samples = 0
    for split in SPLITS:
        ds = build_samples(res.corpus, split, cfg, text_cfg, out / "features", vocab=vocab,
                           progress=False)
        n_samples += len(ds)
    t3 = time.perf_counter()
    corpus = res.corpus
    audio_s = sum(h.index["audio_seconds"] for h in ext.handles.values())
    return {
        "participants": len(corpus.sessions),
        "utterances": sum(len(s.utterances) for s in corpus.sessions),
        "samples": n_samples,
        "audio_hours": audio_s / 3600,
        "speech_hours": sum(s.speech_seconds for s in corpus.sessions) / 3600,
        "extracted": ext.extracted,
        "warnings": len(ext.warnings) + len(res.warnings),
        "cache_mib": _dir_bytes(out / "features") / 1024**2,
        "prepare_s": t1 - t0,
        "features_s": t2 - t1,
        "samples_s": t3 - t2,
        "total_s": t3 - t0,
    }


# ----------------------------------------------------------------------------- training
def _train_setup(p: dict, model_name: str, profile: str):
    import torch

    from depscreen.corpora.prepare import load_prepared
    from depscreen.models import create_model
    from depscreen.training.config import TrainConfig
    from depscreen.training.data import build_data
    from depscreen.training.profiles import get_profile

    _one_thread()
    torch.set_flush_denormal(True)  # as `fit_model` does
    prepared = Path(p["prepared"])
    corpus = load_prepared(prepared)
    overrides = {}
    if model_name == "decision-fusion":
        # Its two classifiers are trained as single-modal runs (the single-modal batch size).
        overrides["batch_size"] = get_profile(profile).batch_single
    cfg = TrainConfig(model=model_name, profile=profile, seed=0, **overrides)
    t0 = time.perf_counter()
    data = build_data(corpus, cfg, prepared / "features", progress=False)
    build_s = time.perf_counter() - t0
    torch.manual_seed(0)
    model = create_model(model_name, **data.model_kwargs(cfg))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return cfg, data, model, opt, build_s


def _step_fn(model_name: str, model, opt):
    """One training step on a batch (forward, cross-entropy, backward, Adam)."""
    import torch.nn.functional as F

    if model_name == "decision-fusion":
        # Decision fusion trains one classifier per modality, each on its own: one step of each.
        parts = (model.text_model, model.speech_model)

        def loss_of(batch):
            return sum(F.cross_entropy(m(batch), batch["label"]) for m in parts)
    else:
        def loss_of(batch):
            return F.cross_entropy(model(batch), batch["label"])

    def step(batch) -> None:
        opt.zero_grad(set_to_none=True)
        loss_of(batch).backward()
        opt.step()

    return step


def _timed_batches(loader, step, n_batches: int | None) -> dict:
    """Run `n_batches` (None: the whole epoch) training steps of epoch 0; time load and step."""
    loader.batch_sampler.set_epoch(0)
    it = iter(loader)
    load_s = step_s = 0.0
    utts = frames = padded = batches = 0
    t_start = time.perf_counter()
    while n_batches is None or batches < n_batches:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        t1 = time.perf_counter()
        step(batch)
        t2 = time.perf_counter()
        load_s += t1 - t0
        step_s += t2 - t1
        utts += len(batch["label"])
        frames += int(batch["mel_lengths"].sum())
        padded += int(batch["mel"].shape[0] * batch["mel"].shape[1])
        batches += 1
    wall = time.perf_counter() - t_start
    return {"wall_s": wall, "load_s": load_s, "step_s": step_s, "utterances": utts,
            "batches": batches, "frames": frames, "padded_frames": padded}


def stage_train_throughput(p: dict) -> dict:
    """Utterances per second of training steps for one model, on the corpus's cached features.

    The batches are the training loader's own (length-bucketed, balanced sampling, collate),
    epoch 0's first `batches` after a warm-up pass, the same batches in every repeat.
    """
    model_name = p["model"]
    cfg, data, model, opt, build_s = _train_setup(p, model_name, p["profile"])
    loader = data.train_loader(cfg)
    step = _step_fn(model_name, model, opt)
    _timed_batches(loader, step, p["warmup"])
    runs = [_timed_batches(loader, step, p["batches"]) for _ in range(p["repeats"])]
    return {
        "model": model_name,
        "batch_size": cfg.batch_size,
        "train_samples": len(data.train),
        "build_data_s": build_s,
        "runs": runs,
        "utt_per_s": [r["utterances"] / r["wall_s"] for r in runs],
    }


def stage_paper_epoch(p: dict) -> dict:
    """One `paper`-profile epoch of a model on the corpus's whole train split, one thread.

    loop: the training steps of one full epoch (as in `stage_train_throughput`, no warm-up
    beyond the model's first batch); train: `depscreen.training.run.train` with max_epochs=1
    from a fresh run folder (data build, one Lightning epoch, dev scoring, run folder writes).
    """
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import train

    model_name, profile = p["model"], "paper"
    cfg, data, model, opt, build_s = _train_setup(p, model_name, profile)
    loader = data.train_loader(cfg)
    step = _step_fn(model_name, model, opt)
    _timed_batches(loader, step, 1)  # first-call costs
    loops = [_timed_batches(loader, step, None) for _ in range(p["repeats"])]
    trains = []
    for r in range(p["train_repeats"]):
        out = Path(p["out"]) / f"run{r}"
        if out.exists():
            shutil.rmtree(out)
        tc = TrainConfig(model=model_name, profile=profile, seed=0, max_epochs=1)
        t0 = time.perf_counter()
        train(Path(p["prepared"]), tc, out, progress=False)
        trains.append(time.perf_counter() - t0)
        shutil.rmtree(out)
    return {"model": model_name, "batch_size": cfg.batch_size, "train_samples": len(data.train),
            "dev_samples": len(data.dev), "loop": loops,
            "epoch_s": [r["wall_s"] for r in loops], "train_call_s": trains}


# ----------------------------------------------------------------------------- predict
def stage_predict(p: dict) -> dict:
    """`predict_interview` on one interview after the model is loaded, one core."""
    import torch
    from bench_predict import predict_cases, random_model, time_calls

    from depscreen.inference.bundle import load_model
    from depscreen.inference.predict import predict_interview

    _one_thread()
    audio, transcript = Path(p["audio"]), Path(p["transcript"])
    t0 = time.perf_counter()
    loaded = load_model(Path(p["model"])) if p.get("model") else random_model()
    load_s = time.perf_counter() - t0
    cases = predict_cases(audio, transcript)
    first = predict_interview(loaded, **cases["audio+transcript"])
    out = {"model": loaded.name, "model_source": p.get("model") or "random-initialised",
           "load_s": load_s, "duration_s": first["inputs"]["duration_s"],
           "samples": first["inputs"]["samples"], "torch_threads": torch.get_num_threads(),
           "cases": {}}
    for name, kwargs in cases.items():
        out["cases"][name] = time_calls(lambda kwargs=kwargs: predict_interview(loaded, **kwargs),
                                        p["repeats"])
    return out


# ----------------------------------------------------------------------------- serve
def stage_serve(p: dict) -> dict:
    """`depscreen serve`'s app answering an upload of one interview, one core (bench_serve)."""
    import tempfile

    from bench_predict import random_model
    from bench_serve import multipart, post, start_server

    from depscreen.view.app import create_app

    _one_thread()
    loaded = random_model()
    with tempfile.TemporaryDirectory() as uploads:
        server, thread, port = start_server(create_app(loaded, tmp_parent=uploads))
        body = multipart(Path(p["audio"]), Path(p["transcript"]))
        first, status, size = post(port, body)  # warm-up: first-call costs are loading's
        if status != 200:
            raise RuntimeError(f"the app answered {status}")
        times = [post(port, body)[0] for _ in range(p["repeats"])]
        left = list(Path(uploads).iterdir())
        server.should_exit = True
        thread.join(timeout=10)
    return {"model": loaded.name, "upload_bytes": len(body), "answer_bytes": size,
            "first_s": first, "times_s": times, "left_behind": len(left)}


# ----------------------------------------------------------------------------- set-up helpers
def stage_setup_corpus(p: dict) -> dict:
    """Untimed: generate the synthetic corpus (and subsets), or find them cached."""
    from suite.data import full_corpus, subset

    t0 = time.perf_counter()
    full = full_corpus(Path(p["work"]), p["participants"], p["minutes"])
    roots = {str(p["participants"]): str(full)}
    for n in p.get("subsets", []):
        if n != p["participants"]:
            roots[str(n)] = str(subset(full, n, Path(p["work"]) / "corpora" /
                                       f"{full.name}-first{n}"))
    return {"roots": roots, "seconds": time.perf_counter() - t0}


def stage_setup_interview(p: dict) -> dict:
    from suite.data import clip, interview

    audio, transcript = interview(Path(p["work"]), p["minutes"])
    out = {"audio": str(audio), "transcript": str(transcript)}
    if p.get("clip_seconds"):
        out["clip"] = str(clip(audio, p["clip_seconds"], Path(p["work"]) / "interview" /
                               f"clip-{p['clip_seconds']:g}s.wav"))
    return out


def stage_setup_prepared(p: dict) -> dict:
    from suite.data import ensure_prepared

    t0 = time.perf_counter()
    ensure_prepared(Path(p["root"]), Path(p["out"]))
    return {"seconds": time.perf_counter() - t0}


STAGES = {
    "logmel": stage_logmel,
    "prepare_features": stage_prepare_features,
    "train_throughput": stage_train_throughput,
    "paper_epoch": stage_paper_epoch,
    "predict": stage_predict,
    "serve": stage_serve,
    "setup_corpus": stage_setup_corpus,
    "setup_interview": stage_setup_interview,
    "setup_prepared": stage_setup_prepared,
}


def run_child(name: str, params: dict) -> dict:
    """Entry point inside the child process."""
    if params.get("one_core"):
        params["cpu"] = pin_to_one_core()
    result = STAGES[name](params)
    result["_cpu"] = params.get("cpu")
    return result

