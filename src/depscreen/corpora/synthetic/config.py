"""What to generate (`SynthConfig`), what generation did (`SynthSummary`), and the facts of the
real DAIC-WOZ the generator reproduces: participant IDs, quirks, split sizes, label-file
headers and names, and the file names of the corpus's own state.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from depscreen.corpora.daic_woz import FULL_TEST_FILE
from depscreen.corpora.daic_woz import SPLIT_FILES as DAIC_SPLIT_FILES
from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.errors import ConfigError

GENERATOR_VERSION = 7  # bump whenever the bytes written for a given config change
SIDECAR = "depscreen_synth.json"
# Corpora written before `prompt_leak` existed behaved as this value (their sidecars lack it).
DEFAULT_PROMPT_LEAK = 0.5
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

    `prompt_leak` is the chance that Ellie's reaction after an answer (when she reacts) is
    answer-specific ("i'm sorry to hear that" after a negative answer, "that's great" after a
    positive one) rather than neutral ("mhm"): the interviewer-prompt shortcut of DAIC-WOZ
    (Burdisso et al., 2024), where Ellie's turns alone predict the label. 0 = Ellie's words
    never depend on the answers, and a minutes-long interview asks a fixed number of
    questions (minutes * 6, the default corpus's average pace), because how many questions
    fit in the time depends on the participant's pace and would give the label away too;
    1 = she always reacts to them.
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
    prompt_leak: float = DEFAULT_PROMPT_LEAK

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
        leak = self.prompt_leak
        if isinstance(leak, bool) or not (
            isinstance(leak, int | float) and math.isfinite(leak) and 0 <= leak <= 1
        ):
            raise ConfigError(
                f"prompt_leak must be between 0 and 1 (0 = Ellie never reacts to the answers, "
                f"{DEFAULT_PROMPT_LEAK} = default), got {leak!r}"
            )
        object.__setattr__(self, "prompt_leak", float(leak))  # 1 and 1.0: the same corpus

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
