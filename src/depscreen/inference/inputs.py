"""A new interview's inputs, read and checked (step 1 of `predict_interview`).

* utterances: the participant's lines of the transcript (parsed and cleaned as for DAIC-WOZ),
  or one utterance spanning the audio for `text=`, or — with audio but no transcript — the
  speech segments found by energy (`asr.speech_segments`), transcribed with `asr=True`;
* audio: decoded once at the model's rate, refused when too large, too short or silent; a
  truncated WAV is scored with a warning;
* which modalities the inputs give and whether the model can use them.

Privacy: nothing here logs transcript text unless `verbose=True`; transcript errors are
redacted of the file's content.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depscreen.audio import (
    SILENCE_PEAK,
    audio_info,
    load_audio,
    open_ref,
    ref_size,
    split_ref,
)
from depscreen.corpora.records import MODALITIES, Utterance
from depscreen.corpora.transcripts import (
    clean_text,
    decode_transcript,
    parse_transcript,
    participant_utterances,
    redact_content,
)
from depscreen.errors import (
    AudioError,
    ConfigError,
    TranscriptError,
    WarningCollector,
)
from depscreen.features.text import tokenize
from depscreen.inference.asr import SPEAKER_NOTE, Recognizer, speech_segments
from depscreen.inference.bundle import LoadedModel
from depscreen.utils.files import read_limited
from depscreen.utils.limits import MAX_TEXT_BYTES

log = logging.getLogger("depscreen.inference")

MAX_TRANSCRIPT_BYTES = MAX_TEXT_BYTES


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
class Context:
    """Warnings collected while scoring one interview, and whether content may be logged."""

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


def read_audio(ref: str, loaded: LoadedModel, max_bytes: int, ctx: Context) -> np.ndarray:
    path, member = split_ref(ref)
    try:
        if member is None and path.is_dir():  # is_dir raises for a name too long
            raise AudioError("is a folder, not an audio file", ref)
        return _decode_audio(ref, loaded, max_bytes, ctx)
    except (OSError, EOFError, zlib.error) as e:
        raise AudioError(f"cannot read the file ({getattr(e, 'strerror', None) or e})",
                         ref) from None


def _decode_audio(ref: str, loaded: LoadedModel, max_bytes: int, ctx: Context) -> np.ndarray:
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


def read_transcript(path: str | Path, session_id: str, duration: float | None,
                     ctx: Context) -> list[Utterance]:
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
        raise TranscriptError(redact_content(e.reason), e.path, e.line) from None
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


def check_inputs(audio: object, transcript: object, text: object, asr: bool) -> None:
    """ConfigError for a combination of inputs that cannot be scored (before any loading)."""
    if audio is not None and not str(audio).strip():
        raise ConfigError("--audio: empty path")
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


def segment_utterances(wave: np.ndarray, sr: int, sid: str, audio_ref: str, asr: bool,
                        recognizer: Recognizer | None, ctx: Context) -> list[Utterance]:
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
                     recognizer: Recognizer | None, ctx: Context) -> Interview:
    """Step 1 of `predict_interview`: read and check the inputs into an `Interview`."""
    check_inputs(audio, transcript, text, asr)
    audio_ref = str(audio) if audio is not None else None
    sid = session_id or default_session_id(audio_ref, transcript)
    available = ({"speech"} if audio_ref else set()) | (
        {"text"} if transcript is not None or text is not None or asr else set())
    check_modalities(loaded, available)
    use = set(loaded.data_modalities) & available
    sr = loaded.audio_cfg.sample_rate
    wave = read_audio(audio_ref, loaded, max_audio_bytes, ctx) if audio_ref else None
    duration = wave.size / sr if wave is not None else None
    if transcript is not None:
        utts, text_source = read_transcript(str(transcript), sid, duration, ctx), "transcript"
    elif text is not None:
        cleaned = clean_text(text)
        if not tokenize(cleaned):
            raise ConfigError("--text holds no words")
        utts, text_source = [Utterance(sid, 0.0, round(duration or 0.0, 6), cleaned)], "text"
    else:
        assert wave is not None and audio_ref is not None
        utts = segment_utterances(wave, sr, sid, audio_ref, asr, recognizer, ctx)
        text_source = "asr" if asr else None
    if text_source is None:
        use.discard("text")
    return Interview(sid, utts, wave, sr, text_source, use, audio_ref,
                     str(transcript) if transcript is not None else None)

