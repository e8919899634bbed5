"""A participant as the generator imagines them: voice and baseline prosody (`make_persona`),
how their depression shows in words and in speech, the chance that an answer is negative
(`p_negative`) and the answers themselves (`compose_answer`). Calibrated with
bench/calibrate_synth.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.corpora.synthetic.config import SynthConfig
from depscreen.corpora.synthetic.plan import (
    _S_PERSONA,
    _S_SPEECH_PERSON,
    _S_STYLE,
    _S_TEXT_PERSON,
    SessionPlan,
    _pick,
    _rng,
)
from depscreen.corpora.synthetic.script import (
    FILLERS,
    NEGATIVE_ADDONS,
    NEUTRAL_ADDONS,
    POSITIVE_ADDONS,
    SLOTS,
    Topic,
)

# Calibrated with bench/calibrate_synth.py (see bench/calibrate_synth.md).
TEXT_BASE_LOGIT = -2.0  # P(negative answer) without depression ~ 12 %
TEXT_GAIN = 7.0  # logit per unit of relevant severity (0-1), times text_signal
TEXT_PERSON_SD = 0.2  # person-level tendency to talk negatively, unrelated to the label
SPEECH_GAIN = 1.8  # prosodic shift per unit of speech severity, times speech_signal
SPEECH_CENTER = 0.2  # severity at which the shift is zero
SPEECH_LABEL_WEIGHT = 1.0  # speech severity = label (the diagnosis, not the item profile)
SPEECH_PERSON_SD = 0.3  # person-level variation in how depression shows in speech
# How a person's depression shows (drawn per person, label-free): in both channels, mostly
# in the words (prosody muted), or mostly in the voice (wording muted). Depression presents
# heterogeneously; some people disclose symptoms, others do not but sound low. This is what
# makes the channels complementary: each alone misses the people the other catches.
# (name, text expression, speech expression, probability)
EXPRESSION_STYLES = (("both", 1.0, 1.0, 0.2), ("words", 1.0, 0.0, 0.4), ("voice", 0.0, 1.0, 0.4))

MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "michel", "miguel", "travis")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Alicia")
ACCENTS = ("en-us", "en-us", "en-us", "en-us", "en-us-nyc", "en", "en-029")


@dataclass(frozen=True)
class Persona:
    """A participant's voice and habits; `speech_shift` > 0 = depressed-sounding prosody."""

    voice: str
    rate: float
    pitch: float
    pitch_range: float
    volume: float
    pause: float  # median pause between phrases (s)
    latency: float  # median response latency (s)
    gain: float  # microphone gain
    speech_shift: float
    text_bias: float  # person-level logit offset for negative wording
    text_expression: float = 1.0  # how much of the person's severity reaches their words
    style: str = "both"  # EXPRESSION_STYLES name: where depression shows

    def prosody(self, rng: np.random.Generator) -> dict[str, int]:
        """eSpeak parameters for one phrase: the person's baseline, shifted, with jitter."""
        s = self.speech_shift
        return {
            "rate": int(np.clip(self.rate - 48.0 * s + rng.normal(0, 7), 90, 260)),
            "pitch": int(np.clip(self.pitch - 5.0 * s + rng.normal(0, 3), 5, 95)),
            "pitch_range": int(np.clip(self.pitch_range - 33.0 * s + rng.normal(0, 6), 2, 100)),
            "volume": int(np.clip(self.volume - 15.0 * s + rng.normal(0, 5), 25, 140)),
            "word_gap": int(np.clip(round(3.0 * s + rng.normal(0, 0.7)), 0, 8)),
        }

    def phrase_pause(self, rng: np.random.Generator) -> float:
        return float(self.pause * math.exp(1.0 * self.speech_shift + rng.normal(0, 0.35)))

    def response_latency(self, rng: np.random.Generator) -> float:
        return float(self.latency * math.exp(0.8 * self.speech_shift + rng.normal(0, 0.4)))


def severity(plan: SessionPlan, item: str | None) -> float:
    """0-1: the relevant item (blended with the total) or the total alone for general topics."""
    total = plan.score / 24.0
    if item is None:
        return total
    return 0.5 * plan.items[PHQ8_ITEMS.index(item)] / 3.0 + 0.5 * total


def speech_severity(plan: SessionPlan) -> float:
    """0-1, mostly the diagnosis: speech follows the overall state, not the item profile, so
    the two channels share little beyond the label (what makes fusing them worthwhile)."""
    return SPEECH_LABEL_WEIGHT * plan.label + (1 - SPEECH_LABEL_WEIGHT) * plan.score / 24.0


def make_persona(plan: SessionPlan, config: SynthConfig) -> Persona:
    """Voice and baseline prosody (label-free), plus independent text and speech expressions."""
    rng = _rng(config.seed, plan.sid, _S_PERSONA)
    variants = MALE_VARIANTS if plan.gender == "male" else FEMALE_VARIANTS
    voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{variants[rng.integers(len(variants))]}"
    base = {
        "rate": float(np.clip(rng.normal(172, 15), 130, 220)),
        "pitch": float(np.clip(rng.normal(50, 9), 20, 80)),
        "pitch_range": float(np.clip(rng.normal(58, 10), 30, 90)),
        "volume": float(np.clip(rng.normal(90, 9), 60, 120)),
        "pause": float(0.35 * math.exp(rng.normal(0, 0.3))),
        "latency": float(0.8 * math.exp(rng.normal(0, 0.35))),
        "gain": float(math.exp(rng.normal(0, 0.2))),
    }
    # Separate draws given the latent severity: the two channels are conditionally independent
    # (given the severity and the person's expression style).
    style = _rng(config.seed, plan.sid, _S_STYLE)
    probs = np.array([p for *_, p in EXPRESSION_STYLES])
    style_name, text_expr, speech_expr, _ = EXPRESSION_STYLES[
        int(style.choice(len(probs), p=probs))
    ]
    sp = _rng(config.seed, plan.sid, _S_SPEECH_PERSON).normal()
    shift = config.speech_signal * (
        SPEECH_GAIN * (speech_expr * speech_severity(plan) - SPEECH_CENTER)
        + SPEECH_PERSON_SD * sp
    )
    text_bias = TEXT_PERSON_SD * _rng(config.seed, plan.sid, _S_TEXT_PERSON).normal()
    return Persona(voice=voice, speech_shift=float(shift), text_bias=float(text_bias),
                   text_expression=float(text_expr), style=style_name, **base)


def p_negative(plan: SessionPlan, persona: Persona, item: str | None, text_signal: float) -> float:
    """Chance that an answer about `item` (None = general) is negative / symptom-related."""
    logit = (
        TEXT_BASE_LOGIT
        + persona.text_bias
        + text_signal * TEXT_GAIN * persona.text_expression * severity(plan, item)
    )
    return 1.0 / (1.0 + math.exp(-logit))


def _fill(rng: np.random.Generator, template: str) -> str:
    return template.format(**{k: _pick(rng, v) for k, v in SLOTS.items()})


def _addon(
    rng: np.random.Generator, plan: SessionPlan, persona: Persona, text_signal: float
) -> str:
    """A general sentence: neutral, or positive/negative with the person's negativity."""
    if rng.random() < 0.3:
        return _pick(rng, NEUTRAL_ADDONS)
    if rng.random() < p_negative(plan, persona, None, text_signal):
        # Which symptom follows the item profile, scaled like everything else in the channel.
        w = text_signal * np.array(plan.items, dtype=float) + 0.3
        item = PHQ8_ITEMS[int(rng.choice(len(w), p=w / w.sum()))]
        return _pick(rng, NEGATIVE_ADDONS[item])
    return _pick(rng, POSITIVE_ADDONS)


def compose_answer(
    rng: np.random.Generator, topic: Topic, plan: SessionPlan, persona: Persona, text_signal: float
) -> tuple[list[str], bool]:
    """One to three sentences answering `topic`, and whether the main answer was negative."""
    negative = bool(rng.random() < p_negative(plan, persona, topic.item, text_signal))
    first = _fill(rng, _pick(rng, topic.negative if negative else topic.positive))
    if rng.random() < 0.25:
        first = f"{_pick(rng, FILLERS)} {first}"
    sentences = [first]
    for _ in range(int(rng.choice(3, p=[0.35, 0.45, 0.2]))):
        sentences.append(_addon(rng, plan, persona, text_signal))
    return sentences, negative
