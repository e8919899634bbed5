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
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import re
import shutil
import time
import wave
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from depscreen.audio import TARGET_SR
from depscreen.corpora.daic_woz import FULL_TEST_FILE
from depscreen.corpora.daic_woz import SPLIT_FILES as DAIC_SPLIT_FILES
from depscreen.corpora.records import PHQ8_CUTOFF, PHQ8_ITEMS
from depscreen.errors import ConfigError, CorpusError
from depscreen.utils.atomic import atomic_write_bytes, atomic_write_text
from depscreen.utils.progress import progress_bar
from depscreen.utils.workers import exit_with_parent

GENERATOR_VERSION = 7  # bump whenever the bytes written for a given config change
SIDECAR = "depscreen_synth.json"
STATE_DIR = ".depscreen_synth"

# ----------------------------------------------------------------------------- DAIC-WOZ facts
DAIC_MISSING_IDS = frozenset({342, 394, 398, 460})
DAIC_FIRST_ID = 300
# The reader ADDS these to transcript times to get audio times.
TRANSCRIPT_OFFSETS = {318: 34.319917, 321: 3.8379167, 341: 6.1892, 362: 16.8582}
INTERRUPTIONS = {373: (395.0, 428.0), 444: (286.0, 387.0)}
NO_ELLIE_IDS = frozenset({451, 458, 480})
LABEL_ERROR_ID = 409  # written PHQ8_Score 10 with PHQ8_Binary 0; the truth is 1
AVEC_SPLIT_SIZES = {"train": 107, "dev": 35, "test": 47}

TRAIN_DEV_HEADER = ["Participant_ID", "PHQ8_Binary", "PHQ8_Score", "Gender"] + [
    f"PHQ8_{item}" for item in PHQ8_ITEMS
]
TEST_HEADER = ["participant_ID", "Gender"]
FULL_TEST_HEADER = ["Participant_ID", "PHQ_Binary", "PHQ_Score", "Gender"]
# The label files written: DAIC-WOZ's three split files plus the labelled test list.
SPLIT_FILES = {**DAIC_SPLIT_FILES, "full_test": FULL_TEST_FILE}
TRANSCRIPT_HEADER = "start_time\tstop_time\tspeaker\tvalue"
CLEANING_RULE = (
    "remove <sync> <synch> [sync] [synch], [laughter], xxx/xxxx, <...> asides and "
    "scrubbed_entry; collapse whitespace; strip"
)


def daic_ids(n: int) -> list[int]:
    """The first `n` DAIC-WOZ participant IDs (300, 301, ... skipping 342/394/398/460)."""
    ids: list[int] = []
    sid = DAIC_FIRST_ID
    while len(ids) < n:
        if sid not in DAIC_MISSING_IDS:
            ids.append(sid)
        sid += 1
    return ids


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Invalid values raise `ConfigError` on construction.

    `ids` (optional) lists the session IDs to generate instead of the first `participants`
    DAIC-WOZ IDs (tests use it to hit the quirk sessions). Interview length is either
    `minutes` of interview (from Ellie's greeting to her goodbye, before set-up chatter) or a
    fixed number of `questions`; by default 3 minutes.
    """

    participants: int = 189
    seed: int = 0
    text_signal: float = 1.0
    speech_signal: float = 1.0
    minutes: float | None = None
    questions: int | None = None
    depressed_fraction: float = 0.30
    quirks: bool = True
    ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.ids:
            object.__setattr__(self, "ids", tuple(int(i) for i in self.ids))
            if len(set(self.ids)) != len(self.ids) or min(self.ids) < 1:
                raise ConfigError("ids must be distinct positive integers")
            object.__setattr__(self, "participants", len(self.ids))
        for name in ("participants", "seed"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be an integer, got {getattr(self, name)!r}")
        if self.questions is not None and not isinstance(self.questions, int):
            raise ConfigError(f"questions must be an integer, got {self.questions!r}")
        if not 1 <= self.participants <= 5000:
            raise ConfigError(f"participants must be 1-5000, got {self.participants}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer in [0, 2^32), got {self.seed}")
        for name in ("text_signal", "speech_signal"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 5):
                raise ConfigError(f"{name} must be between 0 and 5 (1 = default), got {value}")
        if self.minutes is not None and self.questions is not None:
            raise ConfigError("give either minutes or questions, not both")
        if self.minutes is not None and not 0.25 <= self.minutes <= 30:
            raise ConfigError(f"minutes must be between 0.25 and 30, got {self.minutes}")
        if self.questions is not None and not 1 <= self.questions <= 100:
            raise ConfigError(f"questions must be between 1 and 100, got {self.questions}")
        if not 0.0 < self.depressed_fraction < 1.0:
            raise ConfigError(
                f"depressed_fraction must be strictly between 0 and 1, got {self.depressed_fraction}"
            )

    def session_ids(self) -> list[int]:
        """The participant IDs to generate, sorted."""
        return sorted(self.ids) if self.ids else daic_ids(self.participants)

    @property
    def interview_seconds(self) -> float | None:
        """Target interview length, or None when the length is a number of questions."""
        if self.questions is not None:
            return None
        return 60.0 * (3.0 if self.minutes is None else self.minutes)

    def to_dict(self) -> dict:
        """JSON-ready settings (recorded in the sidecar and compared on resume)."""
        d = asdict(self)
        d["ids"] = list(self.ids)
        return d


@dataclass
class SynthSummary:
    """What `generate_corpus` did."""

    out: Path
    sessions: int
    generated: int
    skipped: int
    depressed: int
    splits: dict[str, int]
    audio_seconds: float
    seconds: float


# ----------------------------------------------------------------------------- randomness
# One independent stream per purpose, so that e.g. the speech knob does not change the words.
_S_PHQ, _S_GENDER, _S_PERSONA, _S_TEXT_PERSON, _S_SPEECH_PERSON = 1, 2, 3, 4, 5
_S_TOPICS, _S_EX_TEXT, _S_EX_SPEECH, _S_TOKENS, _S_LAYOUT, _S_NOISE = 6, 7, 8, 9, 10, 11
_S_STYLE = 12
_CORPUS_TAG = 2**31


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


# ----------------------------------------------------------------------------- latent PHQ-8
# Relative prevalence of each symptom among the points of a total (tiredness and sleep most).
_ITEM_BASE = np.array([1.0, 1.1, 1.3, 1.5, 0.8, 1.0, 0.9, 0.5])


def sample_phq8(
    rng: np.random.Generator, depressed: bool, score: int | None = None
) -> tuple[int, list[int]]:
    """A PHQ-8 total (>= 10 iff `depressed`, skewed low like DAIC) and 8 items 0-3 summing to it."""
    if score is None:
        if depressed:
            ks = np.arange(PHQ8_CUTOFF, 25)
            w = np.exp(-(ks - PHQ8_CUTOFF) / 5.0)
        else:
            ks = np.arange(0, PHQ8_CUTOFF)
            w = np.exp(-ks / 3.5)
        score = int(rng.choice(ks, p=w / w.sum()))
    weights = _ITEM_BASE * rng.gamma(2.0, 1.0, size=len(PHQ8_ITEMS))
    items = np.zeros(len(PHQ8_ITEMS), dtype=int)
    for _ in range(score):
        p = np.where(items < 3, weights, 0.0)
        items[rng.choice(len(items), p=p / p.sum())] += 1
    return score, [int(v) for v in items]


def assign_labels(
    ids: Sequence[int], fraction: float, seed: int, forced: Iterable[int] = ()
) -> dict[int, int]:
    """Exactly round(fraction * N) depressed participants (AVEC: 57 of 189), chosen at random."""
    forced = [i for i in forced if i in set(ids)]
    n_dep = max(round(fraction * len(ids)), len(forced))
    rest = [i for i in sorted(ids) if i not in forced]
    chosen = set(forced) | set(
        _rng(seed, _CORPUS_TAG, 1).permutation(rest)[: n_dep - len(forced)].tolist()
    )
    return {i: int(i in chosen) for i in sorted(ids)}


def assign_splits(labels: dict[int, int], seed: int) -> dict[int, str]:
    """Train/dev/test in AVEC 2017 proportions (107/35/47), stratified by label."""
    total = sum(AVEC_SPLIT_SIZES.values())
    rng = _rng(seed, _CORPUS_TAG, 2)
    split: dict[int, str] = {}
    for label in (0, 1):
        group = rng.permutation(sorted(i for i, v in labels.items() if v == label)).tolist()
        n_train = round(len(group) * AVEC_SPLIT_SIZES["train"] / total)
        n_dev = min(round(len(group) * AVEC_SPLIT_SIZES["dev"] / total), len(group) - n_train)
        for k, sid in enumerate(group):
            split[sid] = "train" if k < n_train else "dev" if k < n_train + n_dev else "test"
    return split


@dataclass(frozen=True)
class SessionPlan:
    """Corpus-level decisions about one session, made before any audio is rendered."""

    sid: int
    split: str
    label: int  # the truth
    score: int
    items: tuple[int, ...]
    gender: str  # "male" | "female"
    written_binary: int  # what the split file says (409's label error)
    offset: float  # transcript time = audio time - offset
    interruption: tuple[float, float] | None
    no_ellie: bool


def plan_corpus(config: SynthConfig) -> list[SessionPlan]:
    """Labels, PHQ-8, gender, split and quirks of every session (cheap; no audio)."""
    ids = config.session_ids()
    quirky = config.quirks
    labels = assign_labels(
        ids, config.depressed_fraction, config.seed, [LABEL_ERROR_ID] if quirky else []
    )
    splits = assign_splits(labels, config.seed)
    plans = []
    for sid in ids:
        label_error = quirky and sid == LABEL_ERROR_ID
        score, items = sample_phq8(
            _rng(config.seed, sid, _S_PHQ), bool(labels[sid]), 10 if label_error else None
        )
        male = _rng(config.seed, sid, _S_GENDER).random() < 0.56
        plans.append(
            SessionPlan(
                sid=sid,
                split=splits[sid],
                label=labels[sid],
                score=score,
                items=tuple(items),
                gender="male" if male else "female",
                written_binary=0 if label_error else labels[sid],
                offset=TRANSCRIPT_OFFSETS.get(sid, 0.0) if quirky else 0.0,
                interruption=INTERRUPTIONS.get(sid) if quirky else None,
                no_ellie=quirky and sid in NO_ELLIE_IDS,
            )
        )
    return plans


# ----------------------------------------------------------------------------- the interview script
@dataclass(frozen=True)
class Topic:
    """An interviewer question, the PHQ-8 item its answers reflect (None = overall mood), answers."""

    key: str
    question: str
    item: str | None
    positive: tuple[str, ...]
    negative: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic("how_are_you", "so how are you doing today", "Depressed",
          ("i'm doing good thanks", "pretty good", "i'm doing well", "i'm okay it's been a good day so far",
           "good i'm in a pretty good mood today"),
          ("honestly not that great", "i'm okay i guess a little down", "not too good to be honest",
           "i've been better", "kind of tired and down today")),
    Topic("origin", "where are you from originally", None,
          ("i'm from {city}", "i grew up in {city}", "originally from {city} but i've been here a long time",
           "{city} and i still love going back"),
          ("i'm from {city} but i don't really feel at home anywhere",
           "{city} but i don't talk to anybody from there anymore",
           "i grew up in {city} it was kind of a hard place to grow up")),
    Topic("living", "how do you like your living situation", None,
          ("it's nice i live with my roommate and we get along", "i like it a lot it's quiet and close to work",
           "it's good i finally have my own place"),
          ("not great i mostly stay in my room", "it's okay but i feel alone there most of the time",
           "it's hard i can barely pay the rent and it stresses me out")),
    Topic("sleep", "how easy is it for you to get a good night's sleep", "Sleep",
          ("pretty easy i usually fall asleep right away", "it's easy i sleep like a baby",
           "no problem i get about eight hours", "pretty easy as long as i skip coffee at night"),
          ("it's really hard i wake up in the middle of the night", "not easy at all i lie awake for hours",
           "i can't sleep my mind keeps racing", "hard i only get like four hours a night",
           "i sleep way too much and i still feel tired")),
    Topic("no_sleep", "what are you like when you don't sleep well", "Tired",
          ("i'm a little grumpy but i'm fine after some coffee", "i'm okay i just take a nap",
           "i don't really notice it much"),
          ("i'm exhausted all day and i can't do anything", "i feel drained and irritable",
           "i have no energy at all i just want to lie down", "i'm tired all the time anyway")),
    Topic("happy", "when was the last time you felt really happy", "NoInterest",
          ("last weekend when i went {activity}", "just yesterday i had a great time with {relative}",
           "pretty recently at my friend's birthday party", "i feel happy most days honestly"),
          ("i honestly can't remember", "it's been a long time", "i don't know maybe a few years ago",
           "i don't really feel happy anymore", "nothing really makes me happy these days")),
    Topic("lately", "how have you been feeling lately", "Depressed",
          ("pretty good actually", "i've been feeling great", "good things are going well at work",
           "i've been feeling pretty relaxed"),
          ("i've been feeling really down", "kind of depressed to be honest",
           "not good i feel sad most of the time", "i feel hopeless a lot lately", "empty i guess")),
    Topic("proud", "what are you most proud of in your life", "Failure",
          ("i'm proud of my kids", "finishing school i worked really hard for it",
           "i'm proud that i became {job}", "my family and the person i've become"),
          ("i don't know i can't think of anything", "not much i feel like i've let everyone down",
           "nothing really i feel like a failure", "i used to be proud of my work but not anymore")),
    Topic("travel", "do you travel a lot", "NoInterest",
          ("yeah i love to travel i went to {place} last year", "i try to travel when i can",
           "sometimes i'm planning a trip to {place}"),
          ("no i don't have the energy for it anymore", "not really i don't feel like going anywhere",
           "no i don't enjoy it like i used to")),
    Topic("family", "tell me about your relationship with your family", "Depressed",
          ("we're really close i talk to {relative} every day", "it's good we get together every sunday",
           "pretty good we support each other"),
          ("it's not great we don't really talk", "it's complicated i feel like a burden to them",
           "i'm not close to them i feel pretty alone", "we fight a lot and it gets me down")),
    Topic("enjoy", "what are some things you really enjoy doing", "NoInterest",
          ("i love {activity}", "{activity} and spending time with friends",
           "i really enjoy {activity} on the weekends"),
          ("i used to like {activity} but i don't enjoy it anymore", "nothing really interests me these days",
           "i don't know i just stay home", "i can't really enjoy anything lately")),
    Topic("diagnosed", "have you ever been diagnosed with depression", "Depressed",
          ("no never", "no i haven't", "no not at all", "nope"),
          ("yes a few years ago", "yeah i was diagnosed with depression", "yes and i'm still dealing with it",
           "not officially but i think i have it")),
    Topic("appetite", "how has your appetite been lately", "Appetite",
          ("it's normal i eat three meals a day", "good i love food", "pretty normal nothing has changed"),
          ("i barely eat anything", "i've lost my appetite", "i eat way too much when i'm stressed",
           "i forget to eat most days")),
    Topic("focus", "is it easy for you to focus on things like work or reading", "Concentrating",
          ("yeah i can focus pretty well", "it's easy when i'm interested in something",
           "pretty easy i'm very organized"),
          ("no i can't concentrate at all", "it's hard my mind keeps wandering",
           "i read the same page over and over", "i can't focus on anything lately")),
    Topic("day", "what is a typical day like for you", "Moving",
          ("i get up early go to work and then i go {activity}", "busy i'm always on the move",
           "i work then i cook dinner and relax"),
          ("i mostly stay in bed", "slow everything takes me a long time",
           "i can't sit still i feel restless all day", "i don't do much i just sit around")),
    Topic("friend", "how would your best friend describe you", "Failure",
          ("funny and outgoing", "loyal and caring", "they'd say i'm a hard worker and fun to be around",
           "easygoing and kind"),
          ("probably quiet and withdrawn", "i don't really have a best friend anymore",
           "they'd say i'm always down", "i think they'd say i'm a mess")),
    Topic("advice", "what advice would you give to yourself ten or twenty years ago", "Failure",
          ("enjoy the moment and don't worry so much", "save more money", "take more chances"),
          ("don't make the same mistakes i did", "i'd tell myself it doesn't get better",
           "get help earlier")),
    Topic("stress", "how do you cope with stress", None,
          ("i go for a run and it clears my head", "i talk to my friends", "i listen to music and relax"),
          ("i don't cope very well", "i just shut down and stay in bed", "i drink too much sometimes",
           "i get overwhelmed and cry")),
    Topic("regret", "is there anything you regret", "Failure",
          ("not really i'm happy with my choices", "maybe not traveling more but i'm fine",
           "no i learn from everything"),
          ("a lot of things", "i regret pretty much everything", "i regret wasting so many years",
           "i regret letting people down")),
    Topic("memorable", "what's one of your most memorable experiences", None,
          ("going to {place} with my family", "my wedding day", "graduating from college"),
          ("probably when {relative} passed away", "losing my job that was hard",
           "honestly mostly bad things")),
    Topic("changes", "have you noticed any changes in your behavior or thoughts lately", "Depressed",
          ("no not really", "i've been more positive lately", "i'm exercising more so i feel better"),
          ("yes i've been withdrawing from people", "i've been having a lot of negative thoughts",
           "i feel worthless a lot", "i get irritated over nothing")),
    Topic("therapy", "do you feel like therapy is useful", None,
          ("i think it can be helpful for people", "i've never needed it but i think it's good",
           "sure it's good to talk"),
          ("i'm in therapy now and it helps a little", "i tried it but it didn't help",
           "i probably need it to be honest")),
    Topic("work", "what do you do now", "Failure",
          ("i work as {job}", "i'm {job} and i like it", "i'm {job} it keeps me busy"),
          ("i'm unemployed right now", "i lost my job a few months ago", "i work as {job} but i hate it")),
    Topic("argued", "when was the last time you argued with someone", None,
          ("i don't really argue much", "a while ago with {relative} about something small",
           "last week but we made up quickly"),
          ("yesterday i argue with people a lot lately", "i get into fights with {relative} all the time",
           "i don't remember i just avoid people now")),
)  # fmt: skip
_OPENING_TOPICS = ("how_are_you", "origin")

SLOTS = {
    "city": ("los angeles", "chicago", "new york", "san diego", "texas", "ohio", "seattle",
             "the bay area", "atlanta", "phoenix", "boston", "denver"),
    "relative": ("my mom", "my dad", "my sister", "my brother", "my grandmother", "my aunt",
                 "my cousin", "my son", "my daughter"),
    "activity": ("to the beach", "hiking", "to the gym", "to the movies", "fishing", "dancing",
                 "camping", "shopping", "bowling", "to a concert"),
    "job": ("a nurse", "a teacher", "an engineer", "a cook", "a mechanic", "a student",
            "a designer", "a cashier", "a writer", "an accountant"),
    "place": ("mexico", "hawaii", "new york", "europe", "japan", "las vegas", "canada", "florida"),
}  # fmt: skip
NEGATIVE_ADDONS = {
    "NoInterest": ("nothing is fun anymore", "i don't care about much these days",
                   "i lost interest in most things"),
    "Depressed": ("i just feel sad a lot", "i feel kind of hopeless", "i've been really down",
                  "i cry a lot more than i used to"),
    "Sleep": ("i haven't been sleeping well", "i'm up all night", "i can't sleep"),
    "Tired": ("i'm tired all the time", "i have no energy", "i feel exhausted"),
    "Appetite": ("i don't feel like eating", "i've been overeating"),
    "Failure": ("i feel like a failure", "i feel like i let everyone down", "i'm not good at anything"),
    "Concentrating": ("i can't focus", "my mind is all over the place", "i keep forgetting things"),
    "Moving": ("everything feels slow", "i feel restless", "it's hard to get out of bed"),
}  # fmt: skip
POSITIVE_ADDONS = (
    "i'm pretty happy about that", "things are good", "i feel good about it",
    "i'm looking forward to the future", "i have a lot of support", "it keeps me going",
    "i'm grateful for that", "life is pretty good right now", "i really enjoy it",
)  # fmt: skip
NEUTRAL_ADDONS = (
    "i guess that's about it", "it depends on the day", "you know how it is",
    "that's pretty much it", "i don't know", "i think so anyway", "it's hard to say",
)  # fmt: skip
FILLERS = ("um", "uh", "well", "so", "yeah", "i mean", "hmm", "you know")
INTRO = (
    "hi i'm ellie thanks for coming in today",
    "i was created to talk to people in a safe and secure environment",
    "i'll ask a few questions to get us started and please feel free to tell me anything "
    "your answers are totally confidential",
    "are you okay with this",
)
CONSENT = ("yes", "yeah", "sure", "okay", "yes that's fine", "yeah that's okay")
FOLLOW_UPS = ("can you tell me more about that", "why", "how did you feel about that",
              "can you give me an example of that", "how so")  # fmt: skip
BACKCHANNEL_NEUTRAL = ("mhm", "i see", "okay", "uh huh")
BACKCHANNEL_POSITIVE = ("that's good", "that's great", "nice")
BACKCHANNEL_NEGATIVE = ("i'm sorry to hear that", "that sounds really hard", "i see")
CLOSING = ("okay i think i have asked everything i need to", "thanks for sharing your thoughts with me",
           "goodbye")  # fmt: skip
GOODBYES = ("bye", "thank you bye", "thanks", "bye bye")
# Off-transcript and interruption chatter (a research assistant, "RA", in the room).
RA_SETUP = ("okay so she's going to start in a second", "just talk to her like a normal person",
            "i'll be right outside if you need anything", "let me just fix the microphone")  # fmt: skip
RA_INTERRUPT = ("sorry about that we need to restart the system", "one moment please",
                "okay it's working again")  # fmt: skip
PARTICIPANT_ASIDE = ("oh okay", "no problem", "sure", "is it frozen", "okay cool")
SYNC_TOKENS = ("<sync>", "<synch>", "[sync]", "[synch]")
ASIDES = ("<laughs>", "<sigh>", "<clears throat>", "<pause>")

_CLEAN_RE = re.compile(r"<[^>]*>|\[(?:sync|synch|laughter)\]|\bxxxx?\b|\bscrubbed_entry\b")


def clean_text(value: str) -> str:
    """The cleaning rule the ground truth assumes (see CLEANING_RULE)."""
    return " ".join(_CLEAN_RE.sub(" ", value).split())


# ----------------------------------------------------------------------------- persona
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
ELLIE_VOICE = "en-us+Annie"
RA_VOICES = ("en-us+m2", "en-us+f4", "en+m6")


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


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


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


# ----------------------------------------------------------------------------- rendering
ELLIE_PROSODY = {"rate": 165, "pitch": 55, "pitch_range": 60, "volume": 100, "word_gap": 0}
ELLIE_GAIN = 0.35  # Ellie reaches the participant's microphone through a loudspeaker
SPLIT_PAUSE = 1.1  # a longer pause inside an answer starts a new transcript line
_SILENCE = 1e-3


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
            options = BACKCHANNEL_NEGATIVE if negative else BACKCHANNEL_POSITIVE
            self.ellie(
                b, _pick(text_rng, options if text_rng.random() < 0.5 else BACKCHANNEL_NEUTRAL)
            )
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


def _topic_order(config: SynthConfig, sid: int) -> list[Topic]:
    by_key = {t.key: t for t in TOPICS}
    rest = [t for t in TOPICS if t.key not in _OPENING_TOPICS]
    order = [by_key[k] for k in _OPENING_TOPICS]
    rng = _rng(config.seed, sid, _S_TOPICS)
    while len(order) < 4 * len(TOPICS):  # long interviews cycle through fresh shuffles
        order += [rest[i] for i in rng.permutation(len(rest))]
    return order


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
    target = config.interview_seconds
    span = plan.interruption
    order = _topic_order(config, plan.sid)
    k = 0
    while True:
        elapsed = cursor / sr - interview_start
        done = k >= config.questions if target is None else elapsed >= target
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


# ----------------------------------------------------------------------------- writing a session
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


def _build_task(args: tuple[str, SessionPlan, SynthConfig]) -> dict:
    out, plan, config = args
    return build_session(Path(out), plan, config)


def _dumps(obj: object) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


# ----------------------------------------------------------------------------- the corpus
def _fingerprint(config: SynthConfig) -> dict:
    return {"generator_version": GENERATOR_VERSION, "config": config.to_dict()}


def _is_ours(out: Path) -> bool:
    return (out / STATE_DIR).is_dir() or (out / SIDECAR).is_file()


def _clear(out: Path) -> None:
    """Remove what a previous generation wrote (only our own names)."""
    for p in out.iterdir():
        if re.fullmatch(r"\.?\d+_P(\.tmp-\d+)?", p.name) and p.is_dir():
            shutil.rmtree(p)
    for name in (*SPLIT_FILES.values(), SIDECAR):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)


def _prepare_out(out: Path, config: SynthConfig, force: bool) -> None:
    """Make `out` ready: new, resumable (same settings), or cleared with --force."""
    if out.exists() and not out.is_dir():
        raise ConfigError("output path exists and is not a folder", out)
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE_DIR / "config.json"
    if any(out.iterdir()):
        if not _is_ours(out):
            raise ConfigError(
                "folder is not empty and holds no depscreen synthetic corpus; choose an empty "
                "or new folder (nothing was changed)",
                out,
            )
        previous = _read_json(state) if state.is_file() else None
        if previous != _fingerprint(config):
            if not force:
                raise ConfigError(
                    "folder holds a synthetic corpus made with other settings or another "
                    "generator version; pass --force to replace it, or choose another --out",
                    out,
                )
            _clear(out)
        elif force:
            _clear(out)
    _write_if_changed(state, _dumps(_fingerprint(config)))
    _remove_leftovers(out)


def _remove_leftovers(out: Path) -> None:
    """Temporary folders and files of an interrupted run (all hidden, all ours)."""
    for folder in (out, out / STATE_DIR / "sessions"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if re.fullmatch(r"\.\d+_P\.tmp-\d+", p.name) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".") and p.name.endswith(".tmp") and p.is_file():
                p.unlink(missing_ok=True)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _session_done(out: Path, plan: SessionPlan) -> dict | None:
    folder = out / f"{plan.sid}_P"
    truth = _read_json(_truth_path(out, plan.sid))
    files = (folder / f"{plan.sid}_AUDIO.wav", folder / f"{plan.sid}_TRANSCRIPT.csv")
    if truth is None or not all(f.is_file() for f in files):
        return None
    return truth


def _split_files(plans: list[SessionPlan]) -> dict[str, str]:
    gender_code = {"male": 1, "female": 0}
    tables: dict[str, list[str]] = {
        "train": [",".join(TRAIN_DEV_HEADER)],
        "dev": [",".join(TRAIN_DEV_HEADER)],
        "test": [",".join(TEST_HEADER)],
        "full_test": [",".join(FULL_TEST_HEADER)],
    }
    for p in sorted(plans, key=lambda p: p.sid):
        g = gender_code[p.gender]
        if p.split == "test":
            tables["test"].append(f"{p.sid},{g}")
            tables["full_test"].append(f"{p.sid},{p.written_binary},{p.score},{g}")
        else:
            items = ",".join(str(v) for v in p.items)
            tables[p.split].append(f"{p.sid},{p.written_binary},{p.score},{g},{items}")
    return {SPLIT_FILES[k]: "\n".join(rows) + "\n" for k, rows in tables.items()}


def _pool_context() -> mp.context.BaseContext:
    # A fresh process per session: eSpeak's carried-over state would otherwise make a
    # session's audio depend on which sessions the same worker rendered before it. The fork
    # server imports our modules once (not eSpeak's state: it is initialised in the workers).
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["depscreen.corpora.synthetic", "depscreen.corpora.tts", "soxr"])
        return ctx
    return mp.get_context("spawn")


def _run(
    out: Path, todo: list[SessionPlan], config: SynthConfig, jobs: int, progress: bool
) -> list[dict]:
    tasks = [(str(out), plan, config) for plan in todo]
    results: list[dict] = []
    if not tasks:
        return results
    with progress_bar(progress, len(tasks), "synthesizing interviews") as advance:
        pool = _pool_context().Pool(processes=min(jobs, len(tasks)), maxtasksperchild=1,
                                    initializer=exit_with_parent, initargs=(os.getpid(),))
        try:
            for truth in pool.imap_unordered(_build_task, tasks, chunksize=1):
                results.append(truth)
                advance()
            pool.close()
        finally:
            pool.terminate()
            pool.join()
    return results


def generate_corpus(
    out: Path,
    config: SynthConfig,
    jobs: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> SynthSummary:
    """Generate (or finish generating) the synthetic corpus in `out`.

    A re-run with the same settings resumes: complete sessions are kept, interrupted ones are
    redone. Other settings in a non-empty corpus folder raise `ConfigError` unless `force`.
    `jobs` = worker processes (default: the CPU count); the output does not depend on it.

    Sessions are rendered in worker processes started by multiprocessing's fork server (spawn
    where there is none), so a script calling this must guard its entry point with
    `if __name__ == "__main__":`, as multiprocessing requires.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    plans = plan_corpus(config)
    _prepare_out(out, config, force)
    truths: dict[int, dict] = {}
    todo: list[SessionPlan] = []
    for plan in plans:
        done = _session_done(out, plan)
        if done is not None:
            truths[plan.sid] = done
        else:
            todo.append(plan)
    for truth in _run(out, todo, config, jobs, progress):
        truths[truth["id"]] = truth
    for name, text in _split_files(plans).items():
        _write_if_changed(out / name, text)
    sidecar = {
        "generator": "depscreen.corpora.synthetic",
        "generator_version": GENERATOR_VERSION,
        "complete": True,
        "config": config.to_dict(),
        "seed": config.seed,
        "time_base": "audio seconds (transcript offsets already applied)",
        "cleaning": CLEANING_RULE,
        "split_files": SPLIT_FILES,
        "sessions": [truths[p.sid] for p in plans],
    }
    _write_if_changed(out / SIDECAR, _dumps(sidecar))  # last: its presence means complete
    splits = {s: sum(p.split == s for p in plans) for s in ("train", "dev", "test")}
    return SynthSummary(
        out=out,
        sessions=len(plans),
        generated=len(todo),
        skipped=len(plans) - len(todo),
        depressed=sum(p.label for p in plans),
        splits=splits,
        audio_seconds=float(sum(t["audio_seconds"] for t in truths.values())),
        seconds=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- reading it back
def load_truth(root: Path) -> dict:
    """The ground-truth sidecar of a synthetic corpus; `CorpusError` if absent or incomplete."""
    path = Path(root) / SIDECAR
    if not path.is_file():
        raise CorpusError(f"no {SIDECAR}: not a (complete) depscreen synthetic corpus", root)
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("complete") is not True or "sessions" not in data:
        raise CorpusError("synthetic corpus sidecar is unreadable or incomplete", path)
    if data.get("generator_version") != GENERATOR_VERSION:
        raise CorpusError(
            f"sidecar from generator version {data.get('generator_version')}, this depscreen "
            f"writes version {GENERATOR_VERSION}; regenerate with `depscreen synth --force`",
            path,
        )
    return data


def sidecar_generator_version(root: Path) -> int | None:
    """The generator version recorded by the sidecar in `root` (any version, complete or
    not); None when there is no readable sidecar."""
    data = _read_json(Path(root) / SIDECAR)
    return data.get("generator_version") if isinstance(data, dict) else None


def is_synthetic_corpus(root: Path) -> bool:
    """True when `root` holds a complete synthetic corpus (sidecar and every session's files)."""
    root = Path(root)
    try:
        truth = load_truth(root)
    except CorpusError:
        return False
    for s in truth["sessions"]:
        folder = root / f"{s['id']}_P"
        if not (folder / f"{s['id']}_AUDIO.wav").is_file():
            return False
        if not (folder / f"{s['id']}_TRANSCRIPT.csv").is_file():
            return False
    return all((root / name).is_file() for name in SPLIT_FILES.values())
