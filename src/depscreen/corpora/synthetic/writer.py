"""Writing one session (`build_session`): render it, then write ``{ID}_P/{ID}_AUDIO.wav`` and
``{ID}_TRANSCRIPT.csv`` (in the transcript's own time base, quirks applied) atomically, with
the session's ground truth in the resume state; and the small file helpers the corpus uses.
"""

from __future__ import annotations

import json
import os
import shutil
import wave
from pathlib import Path

import numpy as np

from depscreen.audio import TARGET_SR
from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.corpora.synthetic.config import STATE_DIR, TRANSCRIPT_HEADER, SynthConfig
from depscreen.corpora.synthetic.plan import _S_TOKENS, SessionPlan, _rng
from depscreen.corpora.synthetic.render import RenderedSession, _Line, render_session
from depscreen.utils.atomic import atomic_write_bytes, atomic_write_text


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"


def _transcript_and_truth(
    plan: SessionPlan, lines: list[_Line], rng: np.random.Generator
) -> tuple[str, list[dict]]:
    """Transcript text (transcript time base) and the utterances a correct reader returns."""
    rows = [TRANSCRIPT_HEADER]
    truth: list[dict] = []
    for line in lines:
        if line.speaker == "Ellie" and plan.no_ellie:
            continue
        start = round(line.start - plan.offset, 3)
        end = round(line.end - plan.offset, 3)
        if start < 0:
            raise AssertionError(f"negative transcript time in session {plan.sid}")  # a bug
        speaker = line.speaker
        if speaker == "Participant" and rng.random() < 0.04:
            speaker = "participant"  # the real transcripts are not consistent either
        rows.append(f"{_fmt_time(start)}\t{_fmt_time(end)}\t{speaker}\t{line.value}")
        if line.truth:
            truth.append(
                {
                    "start": round(start + plan.offset, 6),
                    "end": round(end + plan.offset, 6),
                    "text": line.truth,
                }
            )
    return "\n".join(rows) + "\n", truth


def _wav_bytes(samples: np.ndarray, sr: int = TARGET_SR) -> bytes:
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def _session_truth(plan: SessionPlan, rendered: RenderedSession, utterances: list[dict]) -> dict:
    p = rendered.persona
    return {
        "id": plan.sid,
        "session_id": str(plan.sid),
        "split": plan.split,
        "label": plan.label,
        "phq8_score": plan.score,
        "phq8_items": dict(zip(PHQ8_ITEMS, plan.items, strict=True)),
        "gender": plan.gender,
        "written": {"phq8_binary": plan.written_binary, "phq8_score": plan.score},
        "quirks": {
            "transcript_offset": plan.offset,
            "interruption": list(plan.interruption) if plan.interruption else None,
            "no_ellie_lines": plan.no_ellie,
            "label_error": plan.written_binary != plan.label,
        },
        "audio_seconds": round(rendered.audio.size / TARGET_SR, 6),
        "n_questions": rendered.n_questions,
        "persona": {
            "voice": p.voice,
            "speech_shift": round(p.speech_shift, 6),
            "text_bias": round(p.text_bias, 6),
        },
        "utterances": utterances,
    }


def _truth_path(out: Path, sid: int) -> Path:
    return out / STATE_DIR / "sessions" / f"{sid}.json"


def build_session(out: Path, plan: SessionPlan, config: SynthConfig) -> dict:
    """Render one session and write `{ID}_P/` atomically (temp folder, then rename)."""
    from depscreen.corpora.tts import get_engine

    rendered = render_session(plan, config, get_engine())
    transcript, utterances = _transcript_and_truth(
        plan, rendered.lines, _rng(config.seed, plan.sid, _S_TOKENS, 1)
    )
    truth = _session_truth(plan, rendered, utterances)
    final = out / f"{plan.sid}_P"
    tmp = out / f".{plan.sid}_P.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    atomic_write_bytes(tmp / f"{plan.sid}_AUDIO.wav", _wav_bytes(rendered.audio))
    atomic_write_text(tmp / f"{plan.sid}_TRANSCRIPT.csv", transcript)
    # The truth first, then the folder: a folder without its truth is regenerated on resume.
    atomic_write_text(_truth_path(out, plan.sid), _dumps(truth))
    for f in tmp.iterdir():
        _make_readable(f)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return truth


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic write, skipped when the file already holds `text` (a re-run changes no mtime)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    _make_readable(path)


def _make_readable(path: Path) -> None:
    """Give a file the usual permissions (temporary files are created private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _dumps(obj: object) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"
