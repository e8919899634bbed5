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
from depscreen.corpora.records import MODALITIES, Utterance
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
from depscreen.features.audio import utterance_windows
from depscreen.features.cache import SessionFeatures, session_frames
from depscreen.features.dataset import UtteranceDataset, collate, session_samples
from depscreen.features.text import tokenize
from depscreen.inference.asr import SPEAKER_NOTE, Recognizer, speech_segments
from depscreen.inference.bundle import LoadedModel, apply_calibration
from depscreen.utils.files import ZIP_READ_ERRORS, read_limited

log = logging.getLogger("depscreen.inference")

RESULT_SCHEMA = "depscreen-prediction/1"
MAX_TRANSCRIPT_BYTES = 64 * 1024**2
# Below this peak level (-80 dBFS) a recording is treated as silent.
SILENCE_PEAK = 1e-4
BATCH_SIZE = 32


# ----------------------------------------------------------------------------- helpers


def usable_models(available: set[str] | frozenset[str]) -> list[str]:
    """Registered models that can score an interview offering only `available` modalities."""
    from depscreen.models import list_models, model_class

    if not available:
        return []
    return [n for n in list_models()
            if model_class(n).fusion == "decision" or model_class(n).modalities <= available]


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


def interview_samples(loaded: LoadedModel, interview: Interview) -> UtteranceDataset:
    """The interview's samples, built by the same `session_samples` as a corpus split's:
    only the frames' source differs (computed in memory by `session_frames`, the function
    the cache extracts with, instead of read from the cache)."""
    cfg, wave, utts = loaded.audio_cfg, interview.wave, interview.utterances
    sid = interview.session_id
    handle = None
    if wave is not None and "speech" in interview.use:
        frames, spans, _ = session_frames(wave, [(u.start, u.end) for u in utts], cfg,
                                          loaded.choice.speech_rep(cfg))
        handle = SessionFeatures.computed(sid, frames, spans)
    vocab = loaded.vocab if loaded.text_input == "tokens" else None
    samples = session_samples(
        sid, -1, utts, windowed=wave is not None,
        use_text="text" in interview.use, vocab=vocab, text_cfg=loaded.text_cfg,
        audio_cfg=cfg, spans=handle.by_key if handle is not None else {})
    embeddings, text_dim = None, 1
    if loaded.text_input == "embedding" and any(s.has_text for s in samples):
        encoder = loaded.choice.text_encoder(batch_size=loaded.text_cfg.encoder_batch_size)
        embeddings = {sid: encoder.encode([u.text for u in utts])}
        text_dim = embeddings[sid].shape[1]
    n_mels = handle.frames().shape[1] if handle is not None else cfg.n_mels
    # One interview is one session and its own speaker: both norms use its statistics.
    norm = "none" if loaded.choice.norm == "none" else "session"
    return UtteranceDataset("predict", samples, {sid: handle} if handle else {}, embeddings,
                            n_mels, frozenset(interview.use), loaded.text_input, vocab,
                            norm=norm, text_dim=text_dim)


def _windows_past_end(utts: Sequence[Utterance], wave: np.ndarray, cfg) -> int:
    """How many utterance windows run past the end of the recording (their speech is lost)."""
    return sum(1 for u in utts for first, last in utterance_windows(u.start, u.end, cfg)
               if min(last, wave.size) - first < cfg.min_samples)


def _score(loaded: LoadedModel, ds: UtteranceDataset, present: set[str]
           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fused and per-modality probabilities (calibrated) of every sample; NaN where absent."""
    import torch

    model = loaded.model
    n = len(ds)
    p = np.full(n, np.nan)
    per = {m: np.full(n, np.nan) for m in MODALITIES}
    order = np.argsort(ds.lengths, kind="stable")
    drop = {"speech": ("mel", "mel_lengths"), "text": ("tokens", "token_lengths", "sentence_emb")}
    with torch.inference_mode():
        for i in range(0, n, BATCH_SIZE):
            idx = order[i: i + BATCH_SIZE]
            batch = collate([ds[j] for j in idx])
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


@dataclass
class Interview:
    """A new interview's inputs, gathered and checked: the participant's utterances, the
    decoded recording, where the text came from and which modalities will be used."""

    session_id: str
    utterances: list[Utterance]
    wave: np.ndarray | None
    sample_rate: int
    text_source: str | None  # transcript / text / asr, or None (no text channel)
    use: set[str]
    audio: str | None
    transcript: str | None

    @property
    def duration(self) -> float | None:
        return self.wave.size / self.sample_rate if self.wave is not None else None


def _segment_utterances(wave: np.ndarray, sr: int, sid: str, audio_ref: str, asr: bool,
                        recognizer: Recognizer | None, ctx: _Context) -> list[Utterance]:
    """No transcript: the speech segments found by energy, transcribed with `asr`."""
    segments = speech_segments(wave, sr)
    if not segments:
        raise AudioError("no speech found in the audio", audio_ref)
    ctx.warn("no transcript: " + SPEAKER_NOTE)
    texts = [""] * len(segments)
    if asr:
        from depscreen.inference.asr import transcribe_segments

        texts = [clean_text(t) for t in transcribe_segments(wave, sr, segments, recognizer)]
        ctx.warn("the text was transcribed from the audio by offline ASR (PocketSphinx); "
                 "recognition errors affect the text probability")
        n_words = sum(len(t.split()) for t in texts)
        log.info("ASR: %d words in %d segments", n_words, len(segments))
        if ctx.verbose:
            for (s, e), t in zip(segments, texts, strict=True):
                log.info("ASR %.2f-%.2f: %s", s, e, t)
        if n_words == 0:
            ctx.warn("ASR recognised no words; the text channel is empty")
    return [Utterance(sid, s, e, t) for (s, e), t in zip(segments, texts, strict=True)]


def gather_interview(loaded: LoadedModel, audio: str | Path | None,
                     transcript: str | Path | None, text: str | None, asr: bool,
                     session_id: str | None, max_audio_bytes: int,
                     recognizer: Recognizer | None, ctx: _Context) -> Interview:
    """Step 1 of `predict_interview`: read and check the inputs into an `Interview`."""
    check_inputs(audio, transcript, text, asr)
    audio_ref = str(audio) if audio is not None else None
    sid = session_id or default_session_id(audio_ref, transcript)
    available = ({"speech"} if audio_ref else set()) | (
        {"text"} if transcript is not None or text is not None or asr else set())
    check_modalities(loaded, available)
    use = set(loaded.data_modalities) & available
    sr = loaded.audio_cfg.sample_rate
    wave = _read_audio(audio_ref, loaded, max_audio_bytes, ctx) if audio_ref else None
    duration = wave.size / sr if wave is not None else None
    if transcript is not None:
        utts, text_source = _read_transcript(str(transcript), sid, duration, ctx), "transcript"
    elif text is not None:
        cleaned = clean_text(text)
        if not tokenize(cleaned):
            raise ConfigError("--text holds no words")
        utts, text_source = [Utterance(sid, 0.0, round(duration or 0.0, 6), cleaned)], "text"
    else:
        assert wave is not None and audio_ref is not None
        utts = _segment_utterances(wave, sr, sid, audio_ref, asr, recognizer, ctx)
        text_source = "asr" if asr else None
    if text_source is None:
        use.discard("text")
    return Interview(sid, utts, wave, sr, text_source, use, audio_ref,
                     str(transcript) if transcript is not None else None)


def _present(loaded: LoadedModel, interview: Interview, ds: UtteranceDataset) -> set[str]:
    """The modalities some sample carries; FeatureError when the model cannot score them."""
    present = {m for m in interview.use if any(
        (s.has_text if m == "text" else s.span is not None) for s in ds.samples)}
    if len(ds) == 0 or (not loaded.decision_level and not set(loaded.modalities) <= present):
        lacking = " and ".join(sorted(set(loaded.modalities) - present)) or "usable"
        raise FeatureError(
            f"nothing to score: no utterance has {lacking} input long enough for the model "
            f"(utterances shorter than {loaded.audio_cfg.min_seconds:g} s of audio are "
            "skipped, and text needs words)")
    if not present:
        raise FeatureError("nothing to score: no utterance has text or speech input")
    return present


def _timeline(interview: Interview, ds: UtteranceDataset, probs: np.ndarray,
              per: dict[str, np.ndarray], include_text: bool) -> list[dict]:
    """One entry per scored utterance: its times, probabilities and window count."""
    by_utt: dict[int, list[int]] = {}
    for i, s in enumerate(ds.samples):
        by_utt.setdefault(s.utt_index, []).append(i)
    timeline = []
    for ui, idx in by_utt.items():
        u = interview.utterances[ui]
        entry = {
            "start": _r(u.start, 3), "end": _r(u.end, 3),
            "probability": _r(float(probs[idx].mean())),
            "text": _r(_mean(per["text"][idx])), "speech": _r(_mean(per["speech"][idx])),
            "windows": len(idx),
        }
        if include_text:
            entry["words"] = u.text
        timeline.append(entry)
    return timeline


def interview_result(loaded: LoadedModel, interview: Interview, ds: UtteranceDataset,
                     probs: np.ndarray, per: dict[str, np.ndarray], present: set[str],
                     include_text: bool, ctx: _Context) -> dict:
    """Step 3 of `predict_interview`: the JSON-ready result (see there)."""
    threshold = loaded.thresholds["participant"]
    probability = float(probs.mean())
    timeline = _timeline(interview, ds, probs, per, include_text)
    utts = interview.utterances
    log.debug("%s: %d utterances, %d samples scored", interview.session_id, len(utts), len(ds))
    if ctx.verbose:  # participant content: only with --verbose
        scored = dict.fromkeys(s.utt_index for s in ds.samples)
        for entry, u in zip(timeline, (utts[ui] for ui in scored), strict=True):
            log.debug("  %.2f-%.2f p=%.3f %s", u.start, u.end, entry["probability"], u.text)
    duration = interview.duration
    return {
        "schema": RESULT_SCHEMA,
        "depscreen_version": __version__,
        "session_id": interview.session_id,
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
            "audio": interview.audio,
            "transcript": interview.transcript,
            "text_source": interview.text_source,
            "modalities_used": sorted(present),
            "duration_s": _r(duration, 3) if duration is not None else None,
            "utterances": len(utts),
            "utterances_scored": len(timeline),
            "samples": len(ds),
        },
        "timeline": timeline,
        "model": loaded.describe(),
        "warnings": ctx.warnings,
        "caveat": CAVEAT,
    }


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

    Three steps: gather the inputs (`gather_interview`), build and score the samples
    (`interview_samples`, the same builder as training's), write the result
    (`interview_result`).
    """
    ctx = _Context(warnings=list(loaded.warnings), verbose=verbose)
    interview = gather_interview(loaded, audio, transcript, text, asr, session_id,
                                 max_audio_bytes, recognizer, ctx)
    ds = interview_samples(loaded, interview)
    if interview.wave is not None:
        missing = _windows_past_end(interview.utterances, interview.wave, loaded.audio_cfg)
        if missing:
            ctx.warn(f"{missing} window(s) run past the end of the audio; their speech is "
                     "missing")
    present = _present(loaded, interview, ds)
    probs, per = _score(loaded, ds, present)
    return interview_result(loaded, interview, ds, probs, per, present, include_text, ctx)


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
