"""The on-disk feature cache: speech frames per session, sentence embeddings per session.

One cache serves every speech representation (`features/representations.py`: log-Mel,
eGeMAPS, a pretrained encoder). Layout under the cache folder:

    <kind>-<cfg key>/config.json                  the LogMelConfig (windowing) + representation
    <kind>-<cfg key>/<session>-<source key>.npy   (N, dim) float32: every sample's frames
    <kind>-<cfg key>/<session>-<source key>.json  index: per sample utterance, window, frame
                                                  offset and count; per-dim mean and std
    sentemb-<encoder key>/<session>-<text key>.npy (n_utterances, dim) float32

For log-Mel, <kind>-<cfg key> is `logmel-<LogMelConfig.key()>` as it always was; for the
others the key also hashes the representation's config (for a pretrained encoder, its
weights' sha256), see `cache_folder_name`. The config key hashes every LogMelConfig field
and the feature code version; the source key
hashes the audio reference, the file's size, mtime_ns and inode, and the utterance times, so a changed
config, rewritten audio or re-aligned transcript never reuses a stale entry. The text key hashes
the encoder name and every utterance text.

Writes go to a temporary name and are renamed (the .json last, as the completion marker), so
several processes may extract at once: the same key always gives the same content, so a race
only wastes work. Frames are read memory-mapped, so a corpus the size of DAIC-WOZ (~35 h of
participant speech, ~3 GB of float32 frames) never has to fit in RAM.

Audio is decoded once per session and sliced: reading each utterance through
`load_audio(start, end)` was as fast for plain WAVs but 65-125x slower for WAVs inside zip
archives (each call re-inflates the member from its start: 121 s against 1 s for a 15-min
session with 119 utterances).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depscreen.audio import SILENCE_PEAK, load_audio, split_ref
from depscreen.corpora.records import Corpus, Session
from depscreen.errors import AudioError, CorpusWarning, DepscreenError, FeatureError
from depscreen.features.audio import (
    LogMelConfig,
    mel_bases,
    mel_basis,
    normalise,
    seed_mel_bases,
    session_stats,
    utterance_windows,
)
from depscreen.features.representations import (
    LogMelRepresentation,
    SpeechRepresentation,
    TextEncoder,
    cache_folder_name,
)
from depscreen.utils.atomic import atomic_path, atomic_write_text
from depscreen.utils.progress import progress_bar
from depscreen.utils.workers import exit_with_parent

INDEX_FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _sha(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def safe_name(session_id: str) -> str:
    """A file-name-safe form of a session id (a hash suffix keeps sanitised ids distinct)."""
    safe = _SAFE.sub("_", session_id)
    if safe != session_id or not safe:
        safe = f"{safe}~{hashlib.sha256(session_id.encode()).hexdigest()[:8]}"
    return safe


def source_key(session: Session, cfg: LogMelConfig) -> str:
    """Hash of what a session's frames are computed from: audio file identity + utterance times.

    Raises AudioError if the audio file is missing.
    """
    if session.audio is None:
        raise FeatureError(f"session {session.session_id} has no audio")
    path, _member = split_ref(session.audio)
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise AudioError("file not found", session.audio) from e
    return _sha(
        {
            "session_id": session.session_id,
            "audio": session.audio,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "inode": st.st_ino,  # a file replaced by rename changes inode even within one tick
            "utterances": [[u.start, u.end] for u in session.utterances],
            "sr": cfg.sample_rate,
        }
    )


def logmel_dir(cache_dir: str | Path, cfg: LogMelConfig,
               rep: SpeechRepresentation | None = None) -> Path:
    """The cache folder for one windowing config and representation (default log-Mel)."""
    return Path(cache_dir) / cache_folder_name(rep or LogMelRepresentation(cfg), cfg)


@dataclass(frozen=True)
class SampleSpan:
    """Where one sample (utterance `utt`, window `win`) lies in a session's frame array."""

    utt: int
    win: int
    offset: int
    n_frames: int
    first: int  # first audio sample (at cfg.sample_rate) of the window
    last: int  # one past the last audio sample


@dataclass
class SessionFeatures:
    """A handle to one session's cached log-Mel frames (memory-mapped on first use).

    Pickles as paths + index only, so DataLoader workers reopen the memory map themselves.
    """

    session_id: str
    array_path: Path | None  # None: frames computed in memory (`computed`)
    index: dict
    _frames: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.samples: list[SampleSpan] = [SampleSpan(**s) for s in self.index["samples"]]
        self.by_key: dict[tuple[int, int], SampleSpan] = {(s.utt, s.win): s for s in self.samples}
        self.mean = np.asarray(self.index["mean"], dtype=np.float32)
        self.std = np.asarray(self.index["std"], dtype=np.float32)

    @classmethod
    def computed(cls, session_id: str, frames: np.ndarray, spans: list[dict]) -> SessionFeatures:
        """The same handle over frames computed in memory (`session_frames` of a new
        interview, for `predict`): nothing is read from or written to the cache."""
        mean, std = session_stats(frames)
        index = {"n_frames": int(frames.shape[0]), "samples": spans, "mean": mean, "std": std}
        return cls(session_id, None, index, frames)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self.array_path is not None:  # workers reopen the memory map; in-memory frames go
            state["_frames"] = None
        return state

    @property
    def n_frames(self) -> int:
        return int(self.index["n_frames"])

    def frames(self) -> np.ndarray:
        """All the session's frames, (N, n_mels) float32, memory-mapped read-only."""
        if self._frames is None:
            try:
                arr = np.load(self.array_path, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise FeatureError(f"cannot read cached features ({e})", self.array_path) from e
            if arr.ndim != 2 or arr.shape[0] != self.n_frames:
                raise FeatureError(
                    f"cached features have shape {arr.shape}, the index says "
                    f"{self.n_frames} frames; delete the cache folder",
                    self.array_path,
                )
            self._frames = arr
        return self._frames

    def sample(self, span: SampleSpan, normalised: bool = True) -> np.ndarray:
        """One sample's (n_frames, n_mels) frames; normalised with the session's stats."""
        raw = self.frames()[span.offset : span.offset + span.n_frames]
        return normalise(raw, self.mean, self.std) if normalised else np.array(raw)


def _entry_paths(folder: Path, session_id: str, key: str) -> tuple[Path, Path]:
    stem = f"{safe_name(session_id)}-{key}"
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def _load_entry(session_id: str, npy: Path, idx: Path, key: str, cfg_key: str
                ) -> SessionFeatures | None:
    """The cached entry, or None when it is absent or unusable (then it is re-extracted)."""
    if not idx.is_file() or not npy.is_file():
        return None
    try:
        index = json.loads(idx.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if (
        index.get("format") != INDEX_FORMAT
        or index.get("source_key") != key
        or index.get("config_key") != cfg_key
        or index.get("session_id") != session_id
    ):
        return None
    return SessionFeatures(session_id, npy, index)


@dataclass(frozen=True)
class _Task:
    session_id: str
    audio: str
    times: list[tuple[float, float]]
    cfg: dict
    npy: str
    idx: str
    key: str
    cfg_key: str  # the cache folder's key (its name after "<kind>-")
    rep: SpeechRepresentation


def session_frames(wave: np.ndarray, times: Sequence[tuple[float, float]], cfg: LogMelConfig,
                   rep: SpeechRepresentation) -> tuple[np.ndarray, list[dict], int]:
    """One session's frames: every utterance window of `wave` through `rep`, concatenated.

    Returns the (N, dim) frames, one span dict per kept window (utt, win, offset, n_frames,
    first, last) and the number of windows dropped because they run past the audio's end.
    `predict` calls this too, so a new interview's samples are the ones training saw.
    """
    segs, spans, missing = [], [], 0
    for ui, (start, end) in enumerate(times):
        for wi, (first, last) in enumerate(utterance_windows(start, end, cfg)):
            seg = wave[first : min(last, wave.size)]
            if seg.size < cfg.min_samples:  # the utterance runs past the end of the audio
                missing += 1
                continue
            segs.append(seg)
            spans.append({"utt": ui, "win": wi, "first": first, "last": first + seg.size})
    chunks = rep.frames_many(segs) if segs else []
    samples, offset = [], 0
    for span, frames in zip(spans, chunks, strict=True):
        if frames.shape[0] == 0:
            missing += 1
            continue
        samples.append({**span, "offset": offset, "n_frames": int(frames.shape[0])})
        offset += frames.shape[0]
    kept = [c for c in chunks if c.shape[0]]
    frames = (np.concatenate(kept).astype(np.float32, copy=False) if kept
              else np.zeros((0, rep.dim), dtype=np.float32))
    return frames, samples, missing


def _extract(task: _Task) -> dict:
    """Decode one session, compute every window's frames, write .npy then .json atomically."""
    cfg = LogMelConfig(**task.cfg)
    notes: list[str] = []
    wave = np.zeros(0, dtype=np.float32)
    if any(utterance_windows(s, e, cfg) for s, e in task.times):
        wave, notes = load_audio(task.audio, sr=cfg.sample_rate)
        if wave.size and float(np.max(np.abs(wave))) < SILENCE_PEAK:
            raise AudioError("audio is silent (peak level below -80 dBFS)", task.audio)
    frames, samples, missing = session_frames(wave, task.times, cfg, task.rep)
    mean, std = session_stats(frames)
    index = {
        "format": INDEX_FORMAT,
        "session_id": task.session_id,
        "audio": task.audio,
        "source_key": task.key,
        "config_key": task.cfg_key,
        "n_frames": int(frames.shape[0]),
        "n_mels": int(frames.shape[1]),
        "audio_seconds": wave.size / cfg.sample_rate,
        "missing_windows": missing,
        "samples": samples,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "notes": notes,
    }
    with atomic_path(task.npy) as tmp:
        np.save(tmp, frames)
    atomic_write_text(task.idx, json.dumps(index) + "\n")  # written last: the completion marker
    _remove_stale(Path(task.npy), task.session_id, task.key)
    return index


def _remove_stale(npy: Path, session_id: str, key: str) -> None:
    """Delete this session's entries under other source keys (the audio or times changed)."""
    prefix = safe_name(session_id) + "-"
    pattern = re.compile(re.escape(prefix) + r"[0-9a-f]{16}\.(npy|json)")
    for p in npy.parent.iterdir():
        if pattern.fullmatch(p.name) and not p.name.startswith(prefix + key):
            try:
                p.unlink()
            except OSError:
                pass  # another process got there first, or it is in use: harmless


def _run_task(task: _Task) -> tuple[str, dict | None, str | None]:
    try:
        return task.session_id, _extract(task), None
    except DepscreenError as e:
        return task.session_id, None, str(e)
    except OSError as e:  # disk full, permissions: report per session, keep going
        return task.session_id, None, f"{task.audio}: {e}"


def _init_worker(bases: dict, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    seed_mel_bases(bases)  # the parent's filterbanks: workers never import librosa


@dataclass
class ExtractResult:
    """What `extract_corpus` produced: handles by session id, and the sessions it skipped."""

    handles: dict[str, SessionFeatures]
    warnings: list[CorpusWarning]
    extracted: int
    reused: int
    folder: Path


def extract_corpus(
    corpus: Corpus | Sequence[Session],
    cfg: LogMelConfig,
    cache_dir: str | Path,
    jobs: int | None = None,
    progress: bool = True,
    split: str | None = None,
    rep: SpeechRepresentation | None = None,
) -> ExtractResult:
    """Make sure every session with audio has a cache entry; return handles to all of them.

    `corpus` may be a Corpus or a list of sessions; `split` restricts a Corpus to one split
    (so training code can extract train/dev without touching test). `rep` is the speech
    representation (default: log-Mel from `cfg`); `cfg` always decides the windowing.
    Missing entries are extracted in `jobs` processes (default: one per CPU, at most one per
    session; 1 = in this process; always in this process for a representation that is not
    `parallel`, such as a pretrained encoder loaded once). A session whose audio cannot be
    used is skipped and reported in `warnings`.
    """
    rep = rep or LogMelRepresentation(cfg)
    if isinstance(corpus, Corpus):
        sessions = corpus.by_split(split) if split is not None else list(corpus.sessions)
    else:
        sessions = [s for s in corpus if split is None or s.split == split]
    mel_basis(cfg)  # a config with empty mel filters fails here, once, not per session
    folder = logmel_dir(cache_dir, cfg, rep)
    cfg_file = folder / "config.json"
    described = cfg.to_dict()
    if not isinstance(rep, LogMelRepresentation):
        described = {"windowing": described, "representation": rep.config()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not cfg_file.is_file():
            atomic_write_text(cfg_file, json.dumps(described, indent=2) + "\n")
    except OSError as e:
        raise FeatureError(f"cannot write to the feature cache ({e.strerror})", folder) from e
    cfg_key = folder.name.split("-", 1)[1]

    handles: dict[str, SessionFeatures] = {}
    warnings: list[CorpusWarning] = []
    tasks: list[_Task] = []
    for s in sessions:
        if s.audio is None:
            continue  # text-only session: nothing to extract
        try:
            key = source_key(s, cfg)
        except DepscreenError as e:
            warnings.append(CorpusWarning(f"session {s.session_id}: audio skipped: {e.reason}",
                                          e.path, session_id=s.session_id))
            continue
        npy, idx = _entry_paths(folder, s.session_id, key)
        entry = _load_entry(s.session_id, npy, idx, key, cfg_key)
        if entry is not None:
            handles[s.session_id] = entry
            continue
        times = [(u.start, u.end) for u in s.utterances]
        tasks.append(_Task(s.session_id, s.audio, times, cfg.to_dict(), str(npy), str(idx), key,
                           cfg_key, rep))

    reused = len(handles)
    if tasks:
        done = _run_tasks(tasks, jobs if rep.parallel else 1, progress, f"{rep.kind} features")
        by_id = {t.session_id: t for t in tasks}
        for sid, index, error in done:
            if index is None:
                warnings.append(CorpusWarning(f"session {sid}: audio skipped: {error}",
                                              by_id[sid].audio, session_id=sid))
            else:
                handles[sid] = SessionFeatures(sid, Path(by_id[sid].npy), index)
    order = {s.session_id: i for i, s in enumerate(sessions)}
    handles = dict(sorted(handles.items(), key=lambda kv: order[kv[0]]))
    return ExtractResult(handles, warnings, extracted=len(handles) - reused, reused=reused,
                         folder=folder)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork where it is safe and cheap (Linux): it needs no `if __name__ == "__main__"` guard in
    # the caller's script, and workers use no torch/OpenMP (whose thread pools do not survive a
    # fork) - only numpy, scipy and soundfile. Elsewhere spawn, the platform default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_tasks(tasks: list[_Task], jobs: int | None, progress: bool, label: str
               ) -> list[tuple[str, dict | None, str | None]]:
    n_jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    results = []
    if n_jobs == 1:
        with progress_bar(progress, len(tasks), label) as advance:
            for t in tasks:
                results.append(_run_task(t))
                advance()
        return results
    with ProcessPoolExecutor(n_jobs, mp_context=_pool_context(), initializer=_init_worker,
                             initargs=(mel_bases(), os.getpid())) as ex:
        # Submitting first starts every worker before the progress bar starts its thread.
        futures = [ex.submit(_run_task, t) for t in tasks]
        with progress_bar(progress, len(tasks), label) as advance:
            for f in as_completed(futures):
                results.append(f.result())
                advance()
    return results


# ---------------------------------------------------------------- sentence embeddings


def _session_texts(s: Session) -> list[str]:
    return [u.text if s.has_text else "" for u in s.utterances]


def sentence_embeddings(
    sessions: Iterable[Session],
    encoder: TextEncoder,
    cache_dir: str | Path,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Per session, (n_utterances, encoder.dim) float32 embeddings of its utterance texts, cached.

    Empty texts (and sessions without text) get zero rows and are not sent to the encoder.
    All missing sessions are encoded in one batched call.
    """
    sessions = list(sessions)
    folder = Path(cache_dir) / f"sentemb-{_sha(encoder.name)}"
    out: dict[str, np.ndarray] = {}
    todo: list[tuple[Session, Path, list[str]]] = []
    for s in sessions:
        texts = _session_texts(s)
        path = folder / f"{safe_name(s.session_id)}-{_sha([encoder.name, texts])}.npy"
        if path.is_file():
            try:
                arr = np.load(path)
                if arr.shape == (len(texts), encoder.dim):
                    out[s.session_id] = arr
                    continue
            except (OSError, ValueError):
                pass  # unreadable: recompute
        todo.append((s, path, texts))
    if todo:
        flat = [t for _, _, texts in todo for t in texts if t.strip()]
        chunk = 1024  # the bar moves every chunk; the encoder batches within it
        parts = []
        with progress_bar(progress, max(1, -(-len(flat) // chunk)), "sentence embeddings"
                          ) as advance:
            for i in range(0, max(len(flat), 1), chunk):
                parts.append(encoder.encode(flat[i : i + chunk]))
                advance()
        emb = np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)
        pos = 0
        for s, path, texts in todo:
            arr = np.zeros((len(texts), encoder.dim), dtype=np.float32)
            for i, t in enumerate(texts):
                if t.strip():
                    arr[i] = emb[pos]
                    pos += 1
            with atomic_path(path) as tmp:
                np.save(tmp, arr)
            out[s.session_id] = arr
    return {s.session_id: out[s.session_id] for s in sessions}
