"""Rendering one interview (`render_session`): the speaker lines of the script spoken by eSpeak
NG (`tts.py`) in blocks (set-up chatter, introduction, one block per question, an
interruption where the real session had one, closing), placed on one track and mixed onto
a noise floor; the transcript lines keep their audio times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from depscreen.audio import TARGET_SR
from depscreen.corpora.synthetic.config import SynthConfig
from depscreen.corpora.synthetic.persona import Persona, _addon, compose_answer, make_persona
from depscreen.corpora.synthetic.plan import (
    _S_EX_SPEECH,
    _S_EX_TEXT,
    _S_LAYOUT,
    _S_NOISE,
    _S_TOKENS,
    SessionPlan,
    _pick,
    _rng,
)
from depscreen.corpora.synthetic.script import (
    ASIDES,
    BACKCHANNEL_NEGATIVE,
    BACKCHANNEL_NEUTRAL,
    BACKCHANNEL_POSITIVE,
    CLOSING,
    CONSENT,
    FOLLOW_UPS,
    GOODBYES,
    INTRO,
    PARTICIPANT_ASIDE,
    RA_INTERRUPT,
    RA_SETUP,
    SYNC_TOKENS,
    Topic,
    _topic_order,
)

ELLIE_PROSODY = {"rate": 165, "pitch": 55, "pitch_range": 60, "volume": 100, "word_gap": 0}
# The default corpus asks 18.3 questions in a 3-minute interview on average.
SECONDS_PER_QUESTION = 10.0
ELLIE_GAIN = 0.35  # Ellie reaches the participant's microphone through a loudspeaker
SPLIT_PAUSE = 1.1  # a longer pause inside an answer starts a new transcript line
_SILENCE = 1e-3
# eSpeak voices of the interviewer and of the research assistant ("RA") heard off-transcript.
ELLIE_VOICE = "en-us+Annie"
RA_VOICES = ("en-us+m2", "en-us+f4", "en+m6")


@dataclass
class _Line:
    speaker: str  # "Ellie" | "Participant"
    start: float  # audio seconds
    end: float
    value: str  # transcript text
    truth: str | None  # cleaned text if a correct reader must return this line


@dataclass
class _Block:
    """A stretch of interview rendered at local time 0, placed on the track afterwards."""

    sr: int
    audio: list[tuple[int, np.ndarray]] = field(default_factory=list)
    lines: list[_Line] = field(default_factory=list)
    cursor: int = 0

    def gap(self, seconds: float) -> None:
        self.cursor += int(round(max(seconds, 0.0) * self.sr))

    def put(self, x: np.ndarray) -> tuple[float, float]:
        """Place `x` at the cursor and advance; returns its (start, end) seconds."""
        start = self.cursor
        if x.size:
            self.audio.append((start, x))
        self.cursor += x.size
        return start / self.sr, self.cursor / self.sr


def _trim(x: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > _SILENCE)
    return x[idx[0] : idx[-1] + 1] if idx.size else x[:0]


class _Renderer:
    """Speaks the lines of one session; keeps every random draw in its own stream."""

    def __init__(self, plan: SessionPlan, config: SynthConfig, persona: Persona, engine) -> None:
        self.plan = plan
        self.config = config
        self.persona = persona
        self.engine = engine
        self.sr = TARGET_SR
        self.tokens = _rng(config.seed, plan.sid, _S_TOKENS)

    def voice(self, text: str, voice: str, prosody: dict[str, int], gain: float) -> np.ndarray:
        x = _trim(self.engine.synthesize(text + ".", voice, **prosody))
        return (x * gain).astype(np.float32)

    def ellie(self, block: _Block, text: str) -> None:
        start, end = block.put(self.voice(text, ELLIE_VOICE, ELLIE_PROSODY, ELLIE_GAIN))
        block.lines.append(_Line("Ellie", start - 0.1, end + 0.15, text, None))

    def participant(
        self, block: _Block, sentences: Sequence[str], rng: np.random.Generator, truth: bool = True
    ) -> None:
        """Say `sentences`; a long pause between two of them starts a new transcript line."""
        groups: list[list[str]] = [[]]
        spans: list[list[float]] = []
        for k, sentence in enumerate(sentences):
            if k:
                pause = self.persona.phrase_pause(rng)
                if pause > SPLIT_PAUSE:
                    groups.append([])
                block.gap(pause)
            x = self.voice(
                sentence, self.persona.voice, self.persona.prosody(rng), self.persona.gain
            )
            start, end = block.put(x)
            if not groups[-1]:
                spans.append([start, end])
            spans[-1][1] = end
            groups[-1].append(sentence)
        for words, (start, end) in zip(groups, spans, strict=True):
            text = " ".join(words)
            pad0, pad1 = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.25)
            value = self.decorate(text) if truth else text
            block.lines.append(
                _Line("Participant", start - pad0, end + pad1, value, text if truth else None)
            )

    def decorate(self, text: str) -> str:
        """Insert DAIC-style transcript tokens (never spoken, removed by the cleaner)."""
        words = text.split()
        r = self.tokens.random(4)
        if r[0] < 0.05:
            words.insert(0 if self.tokens.random() < 0.5 else len(words), "[laughter]")
        if r[1] < 0.04:
            words.insert(
                int(self.tokens.integers(len(words) + 1)), _pick(self.tokens, ("xxx", "xxxx"))
            )
        if r[2] < 0.03:
            words.insert(int(self.tokens.integers(len(words) + 1)), "scrubbed_entry")
        if r[3] < 0.03:
            words.insert(int(self.tokens.integers(len(words) + 1)), _pick(self.tokens, ASIDES))
        return " ".join(words)

    # -- blocks ---------------------------------------------------------------------------
    def setup_block(self) -> _Block:
        """Set-up chatter before the interview: noise, the RA and the participant, untranscribed."""
        rng = _rng(self.config.seed, self.plan.sid, _S_LAYOUT)
        b = _Block(self.sr)
        length = rng.uniform(6.0, 16.0)
        if self.plan.offset:  # transcript times must stay >= 0 after subtracting the offset
            length = max(length, self.plan.offset + rng.uniform(4.0, 8.0))
        b.gap(rng.uniform(0.5, 2.0))
        ra = _pick(rng, RA_VOICES)
        for _ in range(int(rng.integers(1, 3))):
            b.put(self.voice(_pick(rng, RA_SETUP), ra, ELLIE_PROSODY, 0.5))
            b.gap(rng.uniform(0.4, 1.2))
        b.put(self.voice(_pick(rng, PARTICIPANT_ASIDE), self.persona.voice,
                         self.persona.prosody(rng), self.persona.gain * 0.8))  # fmt: skip
        b.cursor = max(b.cursor, int(length * self.sr))
        if rng.random() < 0.4:  # a sync marker line just before the interview
            t = b.cursor / self.sr - rng.uniform(0.6, 2.0)
            token = _pick(rng, SYNC_TOKENS)
            b.lines.append(_Line("Participant", t, t + rng.uniform(0.1, 0.5), token, None))
        return b

    def intro_block(self) -> _Block:
        rng = _rng(self.config.seed, self.plan.sid, _S_EX_SPEECH, 0)
        b = _Block(self.sr)
        for line in INTRO:
            self.ellie(b, line)
            b.gap(rng.uniform(0.3, 0.7))
        b.gap(self.persona.response_latency(rng))
        self.participant(
            b, [_pick(_rng(self.config.seed, self.plan.sid, _S_EX_TEXT, 0), CONSENT)], rng
        )
        b.gap(rng.uniform(0.5, 1.2))
        return b

    def exchange_block(self, k: int, topic: Topic) -> _Block:
        """Question k: Ellie asks, the participant answers, maybe a follow-up, a backchannel."""
        text_rng = _rng(self.config.seed, self.plan.sid, _S_EX_TEXT, k)
        rng = _rng(self.config.seed, self.plan.sid, _S_EX_SPEECH, k)
        signal = self.config.text_signal
        b = _Block(self.sr)
        self.ellie(b, topic.question)
        b.gap(self.persona.response_latency(rng))
        if self.tokens.random() < 0.03:  # a laughter-only line, untranscribed speech-wise
            self.participant(b, ["ha ha"], rng, truth=False)
            b.lines[-1].value = "[laughter]"
            b.gap(0.3)
        sentences, negative = compose_answer(text_rng, topic, self.plan, self.persona, signal)
        self.participant(b, sentences, rng)
        if text_rng.random() < 0.25:
            b.gap(rng.uniform(0.4, 1.0))
            self.ellie(b, _pick(text_rng, FOLLOW_UPS))
            b.gap(self.persona.response_latency(rng))
            n = 1 + int(text_rng.random() < 0.4)
            self.participant(
                b, [_addon(text_rng, self.plan, self.persona, signal) for _ in range(n)], rng
            )
        if text_rng.random() < 0.6:
            b.gap(rng.uniform(0.3, 0.8))
            # The interviewer-prompt shortcut: with chance prompt_leak Ellie reacts to the answer.
            # One draw whatever prompt_leak is (random() < 0 never holds, < 1 always), so the
            # knob changes no other draw and 0.5 writes the corpus of earlier versions.
            options = BACKCHANNEL_NEGATIVE if negative else BACKCHANNEL_POSITIVE
            leak = text_rng.random() < self.config.prompt_leak
            self.ellie(b, _pick(text_rng, options if leak else BACKCHANNEL_NEUTRAL))
        b.gap(rng.uniform(0.5, 1.3))
        return b

    def interruption_block(self, seconds: float) -> _Block:
        """Non-interview audio: the RA restarts the system; the participant's asides are
        transcribed but overlap the interruption, so a correct reader drops them."""
        rng = _rng(self.config.seed, self.plan.sid, _S_LAYOUT, 1)
        b = _Block(self.sr)
        ra = _pick(rng, RA_VOICES)
        b.gap(1.0)
        while b.cursor / self.sr < seconds - 8.0:
            b.put(self.voice(_pick(rng, RA_INTERRUPT), ra, ELLIE_PROSODY, 0.6))
            b.gap(rng.uniform(0.5, 1.5))
            self.participant(b, [_pick(rng, PARTICIPANT_ASIDE)], rng, truth=False)
            b.gap(rng.uniform(2.0, 6.0))
        b.cursor = int(seconds * self.sr)
        return b

    def closing_block(self) -> _Block:
        rng = _rng(self.config.seed, self.plan.sid, _S_EX_SPEECH, 10_000)
        b = _Block(self.sr)
        for line in CLOSING:
            self.ellie(b, line)
            b.gap(rng.uniform(0.3, 0.6))
        b.gap(self.persona.response_latency(rng) * 0.5)
        goodbye = _pick(_rng(self.config.seed, self.plan.sid, _S_EX_TEXT, 10_000), GOODBYES)
        self.participant(b, [goodbye], rng)
        b.gap(rng.uniform(1.5, 4.0))
        return b


@dataclass
class RenderedSession:
    """One rendered interview, before it is written to disk."""

    audio: np.ndarray  # int16
    lines: list[_Line]
    persona: Persona
    n_questions: int


def render_session(plan: SessionPlan, config: SynthConfig, engine) -> RenderedSession:
    """The whole interview of one participant: audio (int16, 16 kHz) and transcript lines."""
    persona = make_persona(plan, config)
    r = _Renderer(plan, config, persona, engine)
    sr = TARGET_SR
    placed: list[tuple[int, _Block]] = []
    cursor = 0

    def place(block: _Block) -> None:
        nonlocal cursor
        placed.append((cursor, block))
        cursor += block.cursor

    place(r.setup_block())
    interview_start = cursor / sr
    place(r.intro_block())
    target, questions = config.interview_seconds, config.questions
    if target is not None and config.prompt_leak == 0:
        # How many questions fit in the time depends on how fast and how much the participant
        # talks, so which questions the interviewer gets to is itself a cue; without any leak
        # every interview asks the same number (the default corpus's average pace).
        target, questions = None, max(1, round(target / SECONDS_PER_QUESTION))
    span = plan.interruption
    order = _topic_order(config, plan.sid)
    k = 0
    while True:
        elapsed = cursor / sr - interview_start
        done = k >= questions if target is None else elapsed >= target
        # Interrupted sessions run until past their interruption, so the quirk is exercised.
        if done and (span is None or cursor / sr > span[1]):
            break
        block = r.exchange_block(k + 1, order[k % len(order)])
        k += 1
        if (
            span is not None
            and cursor / sr < span[1]
            and cursor + block.cursor + sr // 2 > span[0] * sr
        ):
            cursor = max(cursor, int(span[0] * sr))
            place(r.interruption_block(span[1] - cursor / sr))
        place(block)
    place(r.closing_block())
    audio = _mix(placed, cursor, _rng(config.seed, plan.sid, _S_NOISE))
    lines = sorted(
        (_shift_line(line, start / sr) for start, block in placed for line in block.lines),
        key=lambda ln: ln.start,
    )
    return RenderedSession(audio, lines, persona, k)


def _shift_line(line: _Line, offset: float) -> _Line:
    return _Line(
        line.speaker, max(line.start + offset, 0.0), line.end + offset, line.value, line.truth
    )


def _mix(placed: list[tuple[int, _Block]], length: int, rng: np.random.Generator) -> np.ndarray:
    """Sum all speech onto a coloured noise floor (so silence is never digital zero)."""
    level = 10 ** (rng.uniform(-62.0, -52.0) / 20.0)
    a = 0.9  # one-pole low-pass; sqrt(1-a^2) keeps unit variance
    white = rng.standard_normal(length, dtype=np.float32)
    y = lfilter([np.float32(math.sqrt(1 - a * a) * level)], [1.0, -a], white).astype(np.float32)
    for t0, block in placed:
        for start, x in block.audio:
            s = t0 + start
            seg = x[: max(0, length - s)]
            y[s : s + seg.size] += seg
    return np.round(np.clip(y, -1.0, 32767 / 32768) * 32768.0).astype("<i2")
