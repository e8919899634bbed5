"""Scoring new interviews with a trained model: one interview (`predict_interview`) or many
(`predict_batch`, from a manifest or a folder).

The inputs become exactly the samples training and evaluation build (`features/dataset.py`,
`features/cache.py`), computed in memory instead of through the feature cache:

* utterances: the participant's lines of the transcript (parsed and cleaned as for DAIC-WOZ),
  or one utterance spanning the audio for `text=`, or — with audio but no transcript — the
  speech segments found by energy (`asr.speech_segments`), transcribed with `asr=True`;
* speech: the audio is decoded once, each utterance is cut into windows of at most
  `max_seconds` (shorter than `min_seconds` dropped), log-Mel per window, normalised with the
  statistics of all the session's windows;
* text: token ids with the training vocabulary (or sentence embeddings).

The participant-level probability is the mean of the sample probabilities (as in evaluation);
the decision uses the participant-level threshold chosen on dev. Privacy: nothing here logs
transcript text unless `verbose=True`, and the result holds no text unless `include_text`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depscreen import CAVEAT, __version__
from depscreen.audio import (
    DEFAULT_MAX_BYTES,
    audio_info,
    load_audio,
    open_ref,
    ref_size,
    split_ref,
    zip_ref,
)
from depscreen.corpora.manifest import InterviewRef, read_interviews
from depscreen.corpora.records import Utterance
from depscreen.corpora.transcripts import (
    clean_text,
    decode_transcript,
    parse_transcript,
    participant_utterances,
)
from depscreen.errors import (
    AudioError,
    ConfigError,
    DepscreenError,
    FeatureError,
    TranscriptError,
    WarningCollector,
)
from depscreen.features.audio import normalise, session_stats, utterance_windows
from depscreen.features.cache import session_frames
from depscreen.features.text import PAD_ID, tokenize
from depscreen.inference.asr import SPEAKER_NOTE, Recognizer, speech_segments
from depscreen.inference.bundle import LoadedModel, apply_calibration
from depscreen.utils.files import ZIP_READ_ERRORS, read_limited

log = logging.getLogger("depscreen.inference")

RESULT_SCHEMA = "depscreen-prediction/1"
MAX_TRANSCRIPT_BYTES = 64 * 1024**2
# Below this peak level (-80 dBFS) a recording is treated as silent.
SILENCE_PEAK = 1e-4
BATCH_SIZE = 32
MODALITIES = ("text", "speech")


# ----------------------------------------------------------------------------- helpers


def usable_models(available: set[str] | frozenset[str]) -> list[str]:
    """Registered models that can score an interview offering only `available` modalities."""
    from depscreen.models import list_models, model_class

    if not available:
        return []
    return [n for n in list_models()
            if model_class(n).fitting == "decision" or model_class(n).modalities <= available]


def check_modalities(loaded: LoadedModel, available: set[str]) -> None:
    """ConfigError when `loaded` needs a modality the inputs do not provide."""
    if loaded.decision_level and available & set(MODALITIES):
        return
    missing = set(loaded.modalities) - available
    if not missing:
        return
    have = " and ".join(sorted(available)) or "nothing"
    works = ", ".join(usable_models(available)) or "none"
    hint = ""
    if "text" in missing:
        hint = "; or give --transcript / --text, or --asr to transcribe the audio"
    elif "speech" in missing:
        hint = "; or give --audio"
    raise ConfigError(
        f"model '{loaded.name}' needs {' and '.join(sorted(missing))} input, which was not "
        f"given (the inputs provide {have}); models that work with these inputs: {works}{hint}"
    )


def _redact(message: str) -> str:
    """A transcript error message without the file's content (quoted fields, found headers)."""
    message = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "'…'", message)
    return re.sub(r"(found ).*$", r"\1… (run with --verbose to see it)", message)


def default_session_id(audio: str | None, transcript: str | Path | None) -> str:
    """A session id from the file names: `300_AUDIO.wav` / `300_TRANSCRIPT.csv` -> `300`."""
    if audio is not None:
        path, member = split_ref(str(audio))
        stem = Path(member).stem if member else path.stem
        return re.sub(r"_audio$", "", stem, flags=re.IGNORECASE) or stem
    if transcript is not None:
        stem = Path(transcript).stem
        return re.sub(r"_transcript$", "", stem, flags=re.IGNORECASE) or stem
    return "interview"


@dataclass
class _Sample:
    utt: int
    start: float
    end: float
    has_text: bool
    tokens: tuple[int, ...]
    mel: np.ndarray | None  # raw (un-normalised) frames, None when no speech
    emb_row: int | None = None


@dataclass
class _Context:
    warnings: list[str] = field(default_factory=list)
    verbose: bool = False

    def warn(self, message: str) -> None:
        self.warnings.append(message)  # the caller shows them (the CLI on stderr)


# ----------------------------------------------------------------------------- inputs


def _wav_shortfall(ref: str) -> tuple[int, int] | None:
    """(declared, present) bytes of a WAV's data chunk when the file holds less than its
    header declares (a truncated file), else None. Other formats: None."""
    import struct

    with open_ref(ref) as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            pos += 8
            if cid == b"data":
                present = max(0, ref_size(ref) - pos)
                return (size, present) if size != 0xFFFFFFFF and size > present else None
            f.seek(size + (size & 1), 1)
            pos += size + (size & 1)


def _read_audio(ref: str, loaded: LoadedModel, max_bytes: int, ctx: _Context) -> np.ndarray:
    path, member = split_ref(ref)
    if member is None and path.is_dir():
        raise AudioError("is a folder, not an audio file", ref)
    try:
        return _decode_audio(ref, loaded, max_bytes, ctx)
    except (OSError, EOFError, zlib.error) as e:
        raise AudioError(f"cannot read the file ({getattr(e, 'strerror', None) or e})",
                         ref) from None


def _decode_audio(ref: str, loaded: LoadedModel, max_bytes: int, ctx: _Context) -> np.ndarray:
    cfg = loaded.audio_cfg
    info = audio_info(ref, max_bytes=max_bytes)
    short = _wav_shortfall(ref)
    if short is not None:
        ctx.warn(f"{ref}: the WAV file is truncated (its header declares {short[0]} bytes of "
                 f"audio, the file holds {short[1]}); scoring what is there")
    # Compressed formats decode to more than their size: bound the decoded float32 too.
    # (16-bit PCM at the model's rate decodes to 4x its size: exactly at the limit when the
    # file is.)
    decoded = info.frames * info.channels * 4 + int(info.duration * cfg.sample_rate) * 4
    if decoded > 4 * max_bytes:
        raise AudioError(
            f"audio decodes to {decoded / 1024**2:.0f} MiB ({info.duration / 60:.0f} min), "
            f"above what the limit of {max_bytes / 1024**2:.0f} MiB allows "
            "(raise --max-audio-mb to allow it)", ref)
    wave, notes = load_audio(ref, sr=cfg.sample_rate, max_bytes=max_bytes)
    for note in notes:
        ctx.warn(f"audio converted: {note}")
    if wave.size < cfg.min_samples:
        raise AudioError(f"audio is {wave.size / cfg.sample_rate:.2f} s long, shorter than the "
                         f"{cfg.min_seconds:g} s the model needs for one sample", ref)
    peak = float(np.max(np.abs(wave)))
    if peak < SILENCE_PEAK:
        raise AudioError("audio is silent (peak level below -80 dBFS); nothing to score — "
                         "leave out --audio to score the text alone", ref)
    return wave


def _read_transcript(path: str | Path, session_id: str, duration: float | None,
                     ctx: _Context) -> list[Utterance]:
    archive, member = split_ref(str(path))
    data = read_limited(archive, MAX_TRANSCRIPT_BYTES, "transcript", TranscriptError,
                        member=member)
    if b"\x00" in data[:4096]:
        raise TranscriptError("not a text file (binary content); expected a tab- or "
                              "comma-separated transcript", path)
    text, fallback = decode_transcript(data)
    if fallback:
        ctx.warn(f"{path}: transcript is not UTF-8; decoded as {fallback} "
                 "(save it as UTF-8 to be sure of non-ASCII characters)")
    try:
        lines = parse_transcript(text, str(path), require_speaker=False)
    except TranscriptError as e:
        if ctx.verbose:
            raise
        raise TranscriptError(_redact(e.reason), e.path, e.line) from None
    collector = WarningCollector(strict=False)
    utts, _stats = participant_utterances(session_id, lines, str(path), collector,
                                          duration=duration)
    messages = [str(w) for w in collector.items]
    if not utts:
        why = "; ".join(messages[-2:]) or "no participant lines"
        raise TranscriptError(
            f"no usable participant utterances ({why}). depscreen scores the participant's "
            "lines of a transcript; it cannot separate interviewer from participant in the "
            "audio itself (out of scope)", path)
    for m in messages:
        ctx.warn(m)
    return utts


# ----------------------------------------------------------------------------- samples


def _build_samples(loaded: LoadedModel, utts: Sequence[Utterance], wave: np.ndarray | None,
                   use: set[str], has_text_channel: bool) -> tuple[list[_Sample], int]:
    """The samples of one session, as `build_samples` makes them from the cache: the frames
    come from `session_frames`, the function the cache extracts with (see module doc).

    Returns the samples (raw frames, not yet normalised) and the number of windows whose
    audio ran past the end of the recording.
    """
    cfg = loaded.audio_cfg
    sr = cfg.sample_rate
    use_text = "text" in use and has_text_channel
    vocab = loaded.vocab if loaded.text_input == "tokens" else None
    frames_of: dict[tuple[int, int], np.ndarray] = {}  # (utterance, window) -> (T, dim)
    if wave is not None and "speech" in use:
        frames, spans, _ = session_frames(wave, [(u.start, u.end) for u in utts], cfg,
                                          loaded.choice.speech_rep(cfg))
        frames_of = {(sp["utt"], sp["win"]): frames[sp["offset"]: sp["offset"] + sp["n_frames"]]
                     for sp in spans}
    samples: list[_Sample] = []
    missing = 0
    for ui, u in enumerate(utts):
        has_text = use_text and bool(tokenize(u.text))
        tokens = tuple(vocab.encode(u.text, loaded.text_cfg.max_len)) if has_text and vocab else ()
        if wave is None:
            if has_text:
                samples.append(_Sample(ui, u.start, u.end, has_text, tokens, None))
            continue
        for wi, (first, last) in enumerate(utterance_windows(u.start, u.end, cfg)):
            if min(last, wave.size) - first < cfg.min_samples:
                missing += 1
            mel = frames_of.get((ui, wi))
            if not (has_text or mel is not None):
                continue
            samples.append(_Sample(ui, first / sr, last / sr, has_text, tokens, mel))
    return samples, missing


def _items(loaded: LoadedModel, samples: list[_Sample], embeddings: np.ndarray | None) -> list:
    import torch

    mels = [s.mel for s in samples if s.mel is not None]
    n_mels = mels[0].shape[1] if mels else loaded.audio_cfg.n_mels
    frames = np.concatenate(mels) if mels else np.zeros((0, n_mels), np.float32)
    # One interview is one session, and its own speaker: both norms use its statistics.
    mean, std = session_stats(frames)
    if loaded.choice.norm == "none":
        mean, std = np.zeros_like(mean), np.ones_like(std)
    text_dim = embeddings.shape[1] if embeddings is not None else 1
    items = []
    for s in samples:
        mel = (torch.from_numpy(normalise(s.mel, mean, std)) if s.mel is not None
               else torch.zeros(1, n_mels))
        item = {
            "session_id": "x", "label": -1, "mel": mel,
            "tokens": torch.tensor(s.tokens if s.tokens else (PAD_ID,), dtype=torch.long),
            "has_text": s.has_text, "has_speech": s.mel is not None,
        }
        if loaded.text_input == "embedding":
            row = embeddings[s.utt] if embeddings is not None and s.has_text else None
            item["sentence_emb"] = (torch.from_numpy(np.array(row, dtype=np.float32))
                                    if row is not None else torch.zeros(text_dim))
        items.append(item)
    return items


def _score(loaded: LoadedModel, items: list[dict], present: set[str]
           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fused and per-modality probabilities (calibrated) of every item; NaN where absent."""
    import torch

    from depscreen.features.dataset import collate

    model = loaded.model
    n = len(items)
    p = np.full(n, np.nan)
    per = {m: np.full(n, np.nan) for m in MODALITIES}
    lengths = [int(it["mel"].shape[0]) if it["has_speech"] else int(it["tokens"].shape[0])
               for it in items]
    order = np.argsort(lengths, kind="stable")
    drop = {"speech": ("mel", "mel_lengths"), "text": ("tokens", "token_lengths", "sentence_emb")}
    with torch.inference_mode():
        for i in range(0, n, BATCH_SIZE):
            idx = order[i: i + BATCH_SIZE]
            batch = collate([items[j] for j in idx])
            if loaded.decision_level:
                for m in MODALITIES:
                    if m not in present:  # absent everywhere: the sub-model need not run
                        for key in drop[m]:
                            batch.pop(key, None)
                # The fused and the per-modality calibrated probabilities in one pass.
                probas = model.modality_probas(batch)
                p[idx] = probas["fused"].double().numpy()
                per["text"][idx] = probas["text"].double().numpy()
                per["speech"][idx] = probas["speech"].double().numpy()
                continue
            p[idx] = model.predict_proba(batch).double().numpy()
            mods = sorted(model.modalities)
            if len(mods) == 1:
                per[mods[0]][idx] = p[idx]
                continue
            # Feature-level fusion: each modality's probability = the model given only it.
            for m in MODALITIES:
                other = "speech" if m == "text" else "text"
                only = dict(batch)
                only[f"has_{other}"] = torch.zeros_like(batch[f"has_{other}"])
                pm = model.predict_proba(only).double().numpy()
                has_m = batch[f"has_{m}"].numpy()
                per[m][idx] = np.where(has_m, pm, np.nan)
    if not np.all(np.isfinite(p)):
        raise FeatureError("the model produced non-finite probabilities for this interview "
                           "(non-finite values reached the features or the weights)")
    p = apply_calibration(loaded.calibration, p)
    per = {m: apply_calibration(loaded.calibration, v) for m, v in per.items()}
    return np.asarray(p, dtype=np.float64), per


def _mean(values: np.ndarray) -> float | None:
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else None


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


# ----------------------------------------------------------------------------- one interview


def check_inputs(audio: object, transcript: object, text: object, asr: bool) -> None:
    """ConfigError for a combination of inputs that cannot be scored (before any loading)."""
    if transcript is not None and text is not None:
        raise ConfigError("--transcript and --text exclude each other; give one")
    if asr and audio is None:
        raise ConfigError("--asr transcribes the audio: give --audio")
    if asr and (transcript is not None or text is not None):
        raise ConfigError("--asr is for audio without a transcript; leave out --asr, or "
                          "--transcript/--text")
    if audio is None and transcript is None and text is None:
        raise ConfigError("nothing to score: give --audio and/or --transcript or --text")


def predict_interview(
    loaded: LoadedModel,
    audio: str | Path | None = None,
    transcript: str | Path | None = None,
    text: str | None = None,
    asr: bool = False,
    *,
    session_id: str | None = None,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
    include_text: bool = False,
    verbose: bool = False,
    recognizer: Recognizer | None = None,
) -> dict:
    """Score one interview; returns the JSON-ready result:

    `probability` (calibrated, participant level = mean over samples), `decision` (depressed,
    label, threshold chosen on dev), `modalities` ({"text", "speech"}: each modality's
    probability, None when absent), `inputs` (files, `text_source`: transcript / text / asr /
    None, modalities used, duration, counts), `timeline` (per scored utterance: start, end,
    probability, text, speech, windows; `words` with `include_text`), `model` (name, version,
    calibration), `warnings`, `caveat`.

    `audio`: a WAV (or any libsndfile format; `archive.zip::member.wav` too); `transcript`: a
    DAIC-WOZ-style transcript (tab or comma separated; with a speaker column only the
    participant's lines are scored); `text`: the participant's words inline; `asr`: transcribe
    `audio` offline with PocketSphinx instead. Raises `DepscreenError` subclasses with one-line
    messages for unusable inputs; problems that do not stop scoring are listed under
    "warnings" in the result.
    """
    check_inputs(audio, transcript, text, asr)
    ctx = _Context(warnings=list(loaded.warnings), verbose=verbose)
    audio_ref = str(audio) if audio is not None else None
    sid = session_id or default_session_id(audio_ref, transcript)
    available = ({"speech"} if audio_ref else set()) | (
        {"text"} if transcript is not None or text is not None or asr else set())
    check_modalities(loaded, available)
    use = set(loaded.data_modalities) & available

    cfg = loaded.audio_cfg
    wave = _read_audio(audio_ref, loaded, max_audio_bytes, ctx) if audio_ref else None
    duration = wave.size / cfg.sample_rate if wave is not None else None

    text_source: str | None = None
    if transcript is not None:
        utts = _read_transcript(str(transcript), sid, duration, ctx)
        text_source = "transcript"
    elif text is not None:
        cleaned = clean_text(text)
        if not tokenize(cleaned):
            raise ConfigError("--text holds no words")
        utts = [Utterance(sid, 0.0, round(duration or 0.0, 6), cleaned)]
        text_source = "text"
    else:
        assert wave is not None
        segments = speech_segments(wave, cfg.sample_rate)
        if not segments:
            raise AudioError("no speech found in the audio", audio_ref)
        ctx.warn("no transcript: " + SPEAKER_NOTE)
        texts = [""] * len(segments)
        if asr:
            from depscreen.inference.asr import transcribe_segments

            texts = transcribe_segments(wave, cfg.sample_rate, segments, recognizer)
            texts = [clean_text(t) for t in texts]
            text_source = "asr"
            ctx.warn("the text was transcribed from the audio by offline ASR (PocketSphinx); "
                     "recognition errors affect the text probability")
            n_words = sum(len(t.split()) for t in texts)
            log.info("ASR: %d words in %d segments", n_words, len(segments))
            if verbose:
                for (s, e), t in zip(segments, texts, strict=True):
                    log.info("ASR %.2f-%.2f: %s", s, e, t)
            if n_words == 0:
                ctx.warn("ASR recognised no words; the text channel is empty")
        utts = [Utterance(sid, s, e, t) for (s, e), t in zip(segments, texts, strict=True)]
    has_text_channel = text_source is not None
    if not has_text_channel:
        use.discard("text")

    samples, missing = _build_samples(loaded, utts, wave, use, has_text_channel)
    if missing:
        ctx.warn(f"{missing} window(s) run past the end of the audio; their speech is missing")
    present = {m for m in use if any(
        (s.has_text if m == "text" else s.mel is not None) for s in samples)}
    if not samples or (not loaded.decision_level and not set(loaded.modalities) <= present):
        lacking = " and ".join(sorted(set(loaded.modalities) - present)) or "usable"
        raise FeatureError(
            f"nothing to score: no utterance has {lacking} input long enough for the model "
            f"(utterances shorter than {cfg.min_seconds:g} s of audio are skipped, and text "
            "needs words)")
    if not present:
        raise FeatureError("nothing to score: no utterance has text or speech input")
    embeddings = None
    if "text" in present and loaded.text_input == "embedding":
        encoder = loaded.choice.text_encoder(batch_size=loaded.text_cfg.encoder_batch_size)
        embeddings = encoder.encode([u.text for u in utts])
    items = _items(loaded, samples, embeddings)
    probs, per = _score(loaded, items, present)

    threshold = loaded.thresholds["participant"]
    probability = float(probs.mean())
    timeline = []
    by_utt: dict[int, list[int]] = {}
    for i, s in enumerate(samples):
        by_utt.setdefault(s.utt, []).append(i)
    for ui, idx in by_utt.items():
        u = utts[ui]
        entry = {
            "start": _r(u.start, 3), "end": _r(u.end, 3),
            "probability": _r(float(probs[idx].mean())),
            "text": _r(_mean(per["text"][idx])), "speech": _r(_mean(per["speech"][idx])),
            "windows": len(idx),
        }
        if include_text:
            entry["words"] = u.text
        timeline.append(entry)
    log.debug("%s: %d utterances, %d samples scored", sid, len(utts), len(samples))
    if verbose:  # participant content: only with --verbose
        for entry, u in zip(timeline, (utts[ui] for ui in by_utt), strict=True):
            log.debug("  %.2f-%.2f p=%.3f %s", u.start, u.end, entry["probability"], u.text)
    return {
        "schema": RESULT_SCHEMA,
        "depscreen_version": __version__,
        "session_id": sid,
        "probability": _r(probability),
        "decision": {
            "depressed": bool(probability >= threshold),
            "label": "screen positive" if probability >= threshold else "screen negative",
            "threshold": _r(threshold),
            "threshold_level": "participant",
            "threshold_chosen_on": "dev",
        },
        "modalities": {m: _r(_mean(per[m])) for m in MODALITIES},
        "inputs": {
            "audio": audio_ref,
            "transcript": str(transcript) if transcript is not None else None,
            "text_source": text_source,
            "modalities_used": sorted(present),
            "duration_s": _r(duration, 3) if duration is not None else None,
            "utterances": len(utts),
            "utterances_scored": len(by_utt),
            "samples": len(samples),
        },
        "timeline": timeline,
        "model": loaded.describe(),
        "warnings": ctx.warnings,
        "caveat": CAVEAT,
    }


# ----------------------------------------------------------------------------- batches


BatchItem = InterviewRef  # one interview of a batch: where its inputs are


BATCH_COLUMNS = (
    "session_id", "probability", "decision", "threshold", "p_text", "p_speech", "text_source",
    "modalities_used", "utterances_scored", "samples", "duration_s", "model", "model_version",
    "warnings", "error",
)
_AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}
_TRANSCRIPT_SUFFIXES = {".csv", ".tsv", ".txt"}


def read_manifest(path: str | Path) -> list[BatchItem]:
    """A CSV with columns `audio`, `transcript`, `text` (each optional per row, at least one)
    and optionally `session_id`; paths relative to the manifest's folder."""
    return read_interviews(path, default_session_id)


def find_interviews(folder: str | Path) -> list[BatchItem]:
    """Interviews in a folder (searched recursively): every audio file, with the transcript
    beside it named `{ID}_TRANSCRIPT.csv` (audio `{ID}_AUDIO.wav`, DAIC-WOZ style) or
    `{stem}.csv` / `{stem}.tsv`; transcripts without audio are scored as text. DAIC-WOZ's
    session archives `{ID}_P.zip` are read in place (never extracted); a session present
    both unzipped and zipped is read from the folder, as `prepare` does."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("not a folder", folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    audios = [p for p in files if p.suffix.lower() in _AUDIO_SUFFIXES]
    transcripts = {p for p in files if p.suffix.lower() in _TRANSCRIPT_SUFFIXES}
    items: list[BatchItem] = []
    used: set[Path] = set()
    for a in audios:
        sid = default_session_id(str(a), None)
        lower = {p.name.lower(): p for p in transcripts if p.parent == a.parent}
        match = None
        for name in (f"{sid}_transcript.csv", f"{sid}_transcript.tsv", f"{a.stem}.csv",
                     f"{a.stem}.tsv", f"{sid}.csv", f"{sid}.tsv"):
            if name.lower() in lower:
                match = lower[name.lower()]
                break
        if match is not None:
            used.add(match)
        items.append(BatchItem(sid, str(a), match, None))
    for t in sorted(transcripts - used):
        if "transcript" in t.stem.lower():
            items.append(BatchItem(default_session_id(None, t), None, t, None))
    unzipped = {it.session_id for it in items}
    for archive in files:
        m = _SESSION_ZIP.match(archive.name)
        if m and m.group(1) not in unzipped:
            items.append(_zipped_interview(archive, m.group(1)))
    if not items:
        raise ConfigError("no interviews found (audio files, *_TRANSCRIPT.csv files or "
                          "{ID}_P.zip archives)", folder)
    counts: dict[str, int] = {}
    for it in items:
        counts[it.session_id] = counts.get(it.session_id, 0) + 1
    out = []
    for it in items:  # the same ID in two sub-folders: name them by their relative path
        if counts[it.session_id] > 1:
            src = Path(it.audio) if it.audio else Path(it.transcript)
            rel = src.parent.relative_to(folder).as_posix()
            it = BatchItem(f"{rel}/{it.session_id}", it.audio, it.transcript, it.text)
        out.append(it)
    return out


_SESSION_ZIP = re.compile(r"^(.+)_P\.zip$", re.IGNORECASE)


def _zipped_interview(archive: Path, sid: str) -> BatchItem:
    """A DAIC-WOZ session archive as a batch item. An archive that cannot be listed still
    gives an item (pointing at the audio it should hold), so its row carries the error."""
    from depscreen.corpora.session_files import zip_member

    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
    except ZIP_READ_ERRORS:
        return BatchItem(sid, zip_ref(archive, f"{sid}_AUDIO.wav"), None, None)
    audio_member = zip_member(names, f"{sid}_AUDIO.wav")
    transcript_member = zip_member(names, f"{sid}_TRANSCRIPT.csv")
    if audio_member is None and transcript_member is None:
        # Nothing to score: point at the missing audio so the row says what is wrong.
        return BatchItem(sid, zip_ref(archive, f"{sid}_AUDIO.wav"), None, None)
    return BatchItem(sid, zip_ref(archive, audio_member) if audio_member else None,
                     zip_ref(archive, transcript_member) if transcript_member else None, None)


def predict_batch(
    loaded: LoadedModel,
    items: Sequence[BatchItem],
    asr: bool = False,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
    verbose: bool = False,
    on_done: Callable[[BatchItem, dict], None] | None = None,
) -> list[dict]:
    """One row per interview (columns `BATCH_COLUMNS`). An interview that cannot be scored
    gets its error in the `error` column; the others are still scored. `asr` transcribes
    interviews that have audio but no transcript or text."""
    rows = []
    recognizer = Recognizer() if asr else None
    for it in items:
        row: dict = dict.fromkeys(BATCH_COLUMNS, "")
        row["session_id"] = it.session_id
        row["model"], row["model_version"] = loaded.name, loaded.version
        try:
            res = predict_interview(
                loaded, audio=it.audio, transcript=it.transcript, text=it.text,
                asr=asr and it.audio is not None and it.transcript is None and it.text is None,
                session_id=it.session_id, max_audio_bytes=max_audio_bytes, verbose=verbose,
                recognizer=recognizer,
            )
        except DepscreenError as e:
            row["error"] = str(e)
        else:
            row.update({
                "probability": res["probability"],
                "decision": int(res["decision"]["depressed"]),
                "threshold": res["decision"]["threshold"],
                "p_text": res["modalities"]["text"], "p_speech": res["modalities"]["speech"],
                "text_source": res["inputs"]["text_source"] or "",
                "modalities_used": "+".join(res["inputs"]["modalities_used"]),
                "utterances_scored": res["inputs"]["utterances_scored"],
                "samples": res["inputs"]["samples"],
                "duration_s": res["inputs"]["duration_s"],
                "warnings": " | ".join(w for w in res["warnings"] if w not in loaded.warnings),
            })
        row = {k: ("" if v is None else v) for k, v in row.items()}
        rows.append(row)
        if on_done is not None:
            on_done(it, row)
    return rows


def batch_csv(rows: Sequence[dict]) -> str:
    """The CSV text of `predict_batch` rows."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(BATCH_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
