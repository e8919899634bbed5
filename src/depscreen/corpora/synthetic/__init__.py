"""A synthetic interview corpus in DAIC-WOZ's exact on-disk layout, generated locally.

Nobody may redistribute DAIC-WOZ, so depscreen ships a generator instead: every participant
gets a latent PHQ-8 (item scores, total, binary label), a voice and prosody of their own, and
an interview with a virtual interviewer ("Ellie") spoken by eSpeak NG (`tts.py`). Depression
leaves two *independent, noisy* traces:

* text   — answers are more often negative / symptom-related (the sleep question follows the
           sleep item, and so on); healthy people sometimes say sad things and vice versa;
* speech — slower rate, narrower pitch range, lower volume, longer pauses and response
           latency; again with person-level noise and per-phrase jitter.

`SynthConfig.text_signal` / `speech_signal` scale each trace (0 = the channel carries no
information about the label). Defaults are calibrated with `bench/calibrate_synth.py`.
`SynthConfig.prompt_leak` is the chance that Ellie reacts to an answer with an answer-specific
backchannel rather than a neutral one: DAIC-WOZ's interviewer-prompt shortcut, where Ellie's
turns alone predict the label (0 = none; the default 0.5 is what earlier versions wrote).

What is written (DAIC-WOZ layout; see /work/shared/daic-woz-format.md):

    DIR/{ID}_P/{ID}_AUDIO.wav            16 kHz mono PCM_16
    DIR/{ID}_P/{ID}_TRANSCRIPT.csv       tab-separated start_time, stop_time, speaker, value
    DIR/{train,dev,test}_split_Depression_AVEC2017.csv, DIR/full_test_split.csv
    DIR/depscreen_synth.json             ground truth (written last: its presence = complete)
    DIR/.depscreen_synth/                resume state (config + one truth file per session)

The corpus quirks of the real DAIC-WOZ are reproduced (transcript offsets for 318/321/341/362,
interruptions in 373/444, no Ellie lines for 451/458/480, the PHQ8_Binary error of 409), and
the sidecar records what a *correct* reader must return: participant utterances with times in
the audio's time base and cleaned text (sync markers, `[laughter]`, `xxx`, `<...>` asides and
`scrubbed_entry` removed, whitespace collapsed).

Reproducibility: every random draw comes from a generator seeded by (seed, session id, purpose),
and every session is rendered in a fresh worker process (eSpeak carries state between calls,
see `tts.py`), so the bytes written do not depend on `jobs` or on resuming.

Modules, one job each: `config` (settings, summary, DAIC-WOZ facts), `plan` (randomness,
latent PHQ-8, labels, splits), `script` (what Ellie asks, what people answer), `persona` (a
participant's voice and wording), `render` (speaking and mixing one interview), `writer`
(writing one session), `corpus` (generating the corpus, in worker processes) and `truth`
(reading the ground truth back). The names used outside the package are re-exported here.
"""

from __future__ import annotations

from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.corpora.synthetic.config import (
    GENERATOR_VERSION,
    SIDECAR,
    SPLIT_FILES,
    STATE_DIR,
    SynthConfig,
    SynthSummary,
    daic_ids,
)
from depscreen.corpora.synthetic.corpus import generate_corpus
from depscreen.corpora.synthetic.persona import (
    TEXT_BASE_LOGIT,
    Persona,
    compose_answer,
    make_persona,
    p_negative,
)
from depscreen.corpora.synthetic.plan import SessionPlan, assign_labels, plan_corpus, sample_phq8
from depscreen.corpora.synthetic.render import RenderedSession, render_session
from depscreen.corpora.synthetic.script import TOPICS, Topic, clean_text
from depscreen.corpora.synthetic.truth import (
    is_synthetic_corpus,
    load_truth,
    sidecar_generator_version,
)
from depscreen.corpora.synthetic.writer import build_session

__all__ = [
    "GENERATOR_VERSION",
    "PHQ8_ITEMS",  # re-exported: bench/calibrate_synth_oracle.py reads it from here
    "SIDECAR",
    "SPLIT_FILES",
    "STATE_DIR",
    "TEXT_BASE_LOGIT",
    "TOPICS",
    "Persona",
    "RenderedSession",
    "SessionPlan",
    "SynthConfig",
    "SynthSummary",
    "Topic",
    "assign_labels",
    "build_session",
    "clean_text",
    "compose_answer",
    "daic_ids",
    "generate_corpus",
    "is_synthetic_corpus",
    "load_truth",
    "make_persona",
    "p_negative",
    "plan_corpus",
    "render_session",
    "sample_phq8",
    "sidecar_generator_version",
]
