"""The synthetic corpus's people (persona.py, script.py): how depression shows in their words
and voice, the signal knobs, and the transcript cleaning rule the ground truth assumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from depscreen.corpora import synthetic as syn
from depscreen.corpora.synthetic import SynthConfig, clean_text, plan_corpus


def test_signal_zero_removes_the_channel():
    plans = plan_corpus(SynthConfig(participants=40, text_signal=0, speech_signal=0))
    config = SynthConfig(participants=40, text_signal=0, speech_signal=0)
    personas = [syn.make_persona(p, config) for p in plans]
    assert all(p.speech_shift == 0 for p in personas)
    # With no text signal the chance of a negative answer ignores the PHQ-8 entirely.
    for plan, persona in zip(plans, personas, strict=True):
        expected = 1 / (1 + math.exp(-(syn.TEXT_BASE_LOGIT + persona.text_bias)))
        assert syn.p_negative(plan, persona, "Sleep", 0.0) == pytest.approx(expected)


def test_text_signal_zero_makes_the_words_independent_of_the_phq8():
    config = SynthConfig(participants=40, text_signal=0)
    plans = plan_corpus(config)
    healthy = next(p for p in plans if p.score == 0)
    depressed = max(plans, key=lambda p: p.score)
    persona = syn.make_persona(healthy, config)
    for topic in syn.TOPICS:
        answers = [
            syn.compose_answer(np.random.default_rng(5), topic, plan, persona, 0.0)
            for plan in (healthy, depressed)
        ]
        assert answers[0] == answers[1]
    # ...and the knob is live: more negative answers for the depressed participant when on.
    negatives = {
        signal: sum(
            syn.compose_answer(np.random.default_rng(k), syn.TOPICS[3], depressed, persona, signal)[
                1
            ]
            for k in range(200)
        )
        for signal in (0.0, 1.0)
    }
    assert negatives[1.0] > negatives[0.0] + 20


def test_depression_shifts_both_channels_at_default_strength():
    config = SynthConfig()
    plans = plan_corpus(config)
    shift = {0: [], 1: []}
    pneg = {0: [], 1: []}
    for p in plans:
        persona = syn.make_persona(p, config)
        # Among people whose style lets depression show in that channel.
        if persona.style != "words":
            shift[p.label].append(persona.speech_shift)
        if persona.style != "voice":
            pneg[p.label].append(syn.p_negative(p, persona, "Sleep", config.text_signal))
    assert np.mean(shift[1]) - np.mean(shift[0]) > 0.5
    assert np.mean(pneg[1]) - np.mean(pneg[0]) > 0.15


def test_expression_styles_make_the_channels_fail_on_different_people():
    """Depression shows in both channels, only the words or only the voice, drawn per person
    independently of the label: a depressed "voice" person words answers like someone
    without depression, and a depressed "words" person sounds like one."""
    config = SynthConfig()
    plans = plan_corpus(config)
    personas = {p.sid: syn.make_persona(p, config) for p in plans}
    muted_text = [p for p in plans if personas[p.sid].text_expression == 0.0]
    share = len(muted_text) / len(plans)
    assert 0.25 < share < 0.55  # "voice" style: 40 %
    dep_share = np.mean([p.label for p in muted_text])
    assert abs(dep_share - np.mean([p.label for p in plans])) < 0.12  # label-free draw
    for plan in (p for p in muted_text if p.label):
        persona = personas[plan.sid]
        expected = 1 / (1 + math.exp(-(syn.TEXT_BASE_LOGIT + persona.text_bias)))
        assert syn.p_negative(plan, persona, "Sleep", 1.0) == pytest.approx(expected)
    # Depressed people whose voice is muted ("words") sound like people without depression.
    def mean_shift(keep) -> float:
        return float(np.mean([personas[p.sid].speech_shift for p in plans if keep(p)]))

    healthy = mean_shift(lambda p: not p.label)
    words_only = mean_shift(lambda p: p.label and personas[p.sid].style == "words")
    voiced = mean_shift(lambda p: p.label and personas[p.sid].style != "words")
    assert abs(words_only - healthy) < 0.3 < voiced - healthy


def test_clean_text_removes_transcript_tokens():
    raw = "<sync> [laughter] i'm from xxx  scrubbed_entry <clears throat> ohio [synch] xxxx"
    assert clean_text(raw) == "i'm from ohio"
    assert clean_text("[sync]") == ""
