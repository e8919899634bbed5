"""The interviewer's turns: kept apart from the participant's (`Session.interviewer`), under
the same time rules, written to interviewer.jsonl.gz and read back; participant records and
sessions.csv unchanged by them."""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from depscreen.corpora import prepare as prepare_mod
from depscreen.corpora.daic_woz import INTERRUPTIONS, SYNC_OFFSETS, prepare_daic_woz
from depscreen.corpora.edaic import NO_INTERVIEWER_NOTE, prepare_edaic
from depscreen.corpora.manifest import prepare_manifest
from depscreen.corpora.prepare import (
    INTERVIEWER_FILE,
    META_FILE,
    SESSIONS_FILE,
    UTTERANCES_FILE,
    load_prepared,
    prepare,
    write_prepared,
)
from depscreen.corpora.records import Corpus, Utterance
from depscreen.corpora.transcripts import (
    interviewer_utterances,
    parse_transcript,
    participant_utterances,
)
from depscreen.errors import WarningCollector

from .fixtures import (
    DEFAULT_LINES,
    DaicSession,
    EdaicSession,
    build_daic,
    build_edaic,
    daic_transcript,
    write_csv,
    write_manifest,
    write_wav,
)

# Ellie's lines of DEFAULT_LINES, cleaned, without offset.
ELLIE_EXPECTED = [
    (1.0, 2.0, "hi i'm ellie thanks for coming in today"),
    (4.0, 5.0, "where are you from originally"),
]
SECRET = "ellie secret prompt"  # must never reach a warning, a note or prepare.json
# 373: interruption 395-428 s (audio time). Ellie lines overlapping it are dropped.
CUT_LINES = [
    (10.0, 11.0, "Ellie", "hi <sync>"),
    (11.5, 13.0, "Participant", "before the break"),
    (390.0, 396.0, "Ellie", "overlaps the start"),
    (400.0, 401.0, "ELLIE", "inside the break"),
    (428.0, 429.0, "Ellie", "right after"),
    (429.5, 431.0, "Participant", "after the break"),
    (432.0, 433.0, "Ellie", "<synch>"),  # no words: dropped
    (434.0, 433.0, "Ellie", SECRET),  # reversed times: dropped without a warning
    (439.0, 445.0, "Ellie", SECRET),  # ends after the audio (440 s): dropped, no warning
]
NO_ELLIE_LINES = [(0.2, 1.5, "Participant", "hello there"), (2.0, 3.0, "participant", "i'm good")]


def _triples(utts: list[Utterance] | None) -> list[tuple[float, float, str]] | None:
    return None if utts is None else [(u.start, u.end, u.text) for u in utts]


def _lines(rows, with_speaker: bool = True):
    text = daic_transcript(rows)
    if not with_speaker:
        text = "\n".join(
            "\t".join(f for i, f in enumerate(r.split("\t")) if i != 2) for r in text.splitlines()
        )
    return parse_transcript(text, "t.csv", require_speaker=with_speaker)


# --- transcripts ---------------------------------------------------------------------------


def test_interviewer_turns_follow_the_participant_rules() -> None:
    lines = _lines(CUT_LINES)
    turns = interviewer_utterances("373", lines, offset=0.0, cut=INTERRUPTIONS["373"], duration=440)
    assert _triples(turns) == [(10.0, 11.0, "hi"), (428.0, 429.0, "right after")]
    shifted = interviewer_utterances("318", _lines(DEFAULT_LINES), offset=2.5)
    assert _triples(shifted) == [(a + 2.5, b + 2.5, t) for a, b, t in ELLIE_EXPECTED]


def test_interviewer_turns_are_sorted_and_speaker_case_insensitive() -> None:
    rows = [(5.0, 6.0, " ellie ", "second"), (1.0, 2.0, "ELLIE", "first"),
            (2.5, 3.0, "Participant", "answer")]
    assert _triples(interviewer_utterances("1", _lines(rows))) == [
        (1.0, 2.0, "first"),
        (5.0, 6.0, "second"),
    ]


@pytest.mark.parametrize(
    ("rows", "with_speaker"),
    [
        (DEFAULT_LINES, False),  # no speaker column
        (NO_ELLIE_LINES, True),  # no interviewer line
        ([(1.0, 2.0, "Ellie", "<sync>"), (2.5, 3.0, "Participant", "yes")], True),  # none left
    ],
)
def test_no_interviewer_turns_is_none(rows, with_speaker: bool) -> None:
    assert interviewer_utterances("1", _lines(rows, with_speaker)) is None


def test_participant_outputs_and_warnings_unchanged_by_interviewer_lines() -> None:
    """Bad interviewer lines warn nothing; the participant's output is what it was."""
    lines = _lines(CUT_LINES)
    warnings = WarningCollector()
    utts, stats = participant_utterances(
        "373", lines, "t.csv", warnings, cut=INTERRUPTIONS["373"], duration=440
    )
    assert _triples(utts) == [(11.5, 13.0, "before the break"), (429.5, 431.0, "after the break")]
    assert (stats.n_cut, stats.n_empty, warnings.items) == (0, 0, [])
    interviewer_utterances("373", lines, cut=INTERRUPTIONS["373"], duration=440)
    assert warnings.items == []


# --- recipes -------------------------------------------------------------------------------


def _daic_sessions() -> list[DaicSession]:
    return [
        DaicSession("300", "train"),
        DaicSession("301", "dev", score=12, layout="zip"),
        DaicSession("318", "test", seconds=45, silent=True),
        DaicSession("373", "train", seconds=440, silent=True, lines=CUT_LINES),
        DaicSession("451", "dev", lines=NO_ELLIE_LINES),
    ]


@pytest.fixture(scope="module")
def daic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_daic(tmp_path_factory.mktemp("daic"), _daic_sessions())


@pytest.fixture(scope="module")
def daic(daic_root: Path) -> Corpus:
    return prepare_daic_woz(daic_root)


def test_daic_sessions_get_interviewer_turns_in_audio_time(daic: Corpus) -> None:
    by_id = {s.session_id: s for s in daic.sessions}
    assert _triples(by_id["300"].interviewer) == ELLIE_EXPECTED
    assert _triples(by_id["301"].interviewer) == ELLIE_EXPECTED  # read in place from a zip
    offset = SYNC_OFFSETS["318"]
    assert _triples(by_id["318"].interviewer) == [
        (round(a + offset, 6), round(b + offset, 6), t) for a, b, t in ELLIE_EXPECTED
    ]
    assert _triples(by_id["373"].interviewer) == [(10.0, 11.0, "hi"), (428.0, 429.0, "right after")]
    assert by_id["451"].interviewer is None  # no Ellie lines
    # Never mixed into the participant's utterances.
    for s in daic.sessions:
        assert not {u.text for u in s.utterances} & {u.text for u in s.interviewer or []}


def test_interviewer_text_stays_out_of_warnings_and_notes(daic: Corpus) -> None:
    assert daic.warnings == []
    assert not any(SECRET in n or "right after" in n for n in daic.notes)


def test_edaic_has_no_interviewer_turns_and_says_so_once(tmp_path: Path) -> None:
    root = build_edaic(tmp_path / "edaic", [EdaicSession("300"), EdaicSession("600", "dev")])
    corpus = prepare_edaic(root)
    assert [s.interviewer for s in corpus.sessions] == [None, None]
    assert corpus.notes.count(NO_INTERVIEWER_NOTE) == 1
    result = prepare("edaic", root, tmp_path / "out")
    meta = json.loads((tmp_path / "out" / META_FILE).read_text())
    assert meta["notes"].count(NO_INTERVIEWER_NOTE) == 1 and meta["n_interviewer_turns"] == 0
    assert [s.interviewer for s in load_prepared(result.out).sessions] == [None, None]


def test_manifest_interviewer_turns_only_from_a_speaker_column(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 12.0)
    (tmp_path / "with.tsv").write_text(daic_transcript(DEFAULT_LINES))
    write_csv(tmp_path / "without.csv",
              [["Start_Time", "End_Time", "Text"], [0.5, 1.0, "well, okay"]])
    rows = [
        {"session_id": "with", "split": "train", "label": 0, "audio": "a.wav",
         "transcript": "with.tsv"},
        {"session_id": "without", "split": "train", "label": 1, "transcript": "without.csv"},
        {"session_id": "text", "split": "dev", "label": 1, "text": "i feel low"},
        {"session_id": "audio", "split": "test", "label": 0, "audio": "a.wav"},
    ]
    corpus = prepare_manifest(write_manifest(tmp_path / "m.csv", rows))
    by_id = {s.session_id: s for s in corpus.sessions}
    assert _triples(by_id["with"].interviewer) == ELLIE_EXPECTED
    assert [by_id[k].interviewer for k in ("without", "text", "audio")] == [None, None, None]


# --- prepare / load_prepared -----------------------------------------------------------------


def _old_utterances_bytes(corpus: Corpus) -> bytes:
    """utterances.jsonl.gz exactly as `write_prepared` wrote it before interviewer turns."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for s in corpus.sessions:
            for u in s.utterances:
                line = {"session_id": u.session_id, "start": u.start, "end": u.end, "text": u.text}
                gz.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
    return buf.getvalue()


def _records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_round_trip_keeps_participant_files_byte_identical(daic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    result = prepare("daic-woz", daic_root, out)
    corpus = result.corpus
    # The participant's records are those of `participant_utterances` alone.
    for s in corpus.sessions:
        lines = parse_transcript(
            daic_transcript(next(d.lines for d in _daic_sessions() if d.sid == s.session_id)),
            "t",
        )
        utts, _ = participant_utterances(
            s.session_id, lines, "t", WarningCollector(),
            offset=SYNC_OFFSETS.get(s.session_id, 0.0), cut=INTERRUPTIONS.get(s.session_id),
        )
        assert s.utterances == utts
    # sessions.csv and utterances.jsonl.gz: the same bytes as without interviewer turns.
    stripped = replace(corpus, sessions=[replace(s, interviewer=None) for s in corpus.sessions])
    write_prepared(stripped, tmp_path / "without", fingerprint="x", options={})
    for name in (SESSIONS_FILE, UTTERANCES_FILE):
        assert (out / name).read_bytes() == (tmp_path / "without" / name).read_bytes(), name
    assert (out / UTTERANCES_FILE).read_bytes() == _old_utterances_bytes(corpus)
    assert _records(tmp_path / "without" / INTERVIEWER_FILE) == []

    records = _records(out / INTERVIEWER_FILE)
    assert records[:2] == [
        {"session_id": "300", "start": a, "end": b, "text": t} for a, b, t in ELLIE_EXPECTED
    ]
    meta = json.loads((out / META_FILE).read_text())
    assert meta["n_interviewer_turns"] == len(records) == 8
    assert SECRET not in (out / META_FILE).read_text()

    back = load_prepared(out)
    assert back.notes == corpus.notes
    for a, b in zip(back.sessions, corpus.sessions, strict=True):
        assert (a.utterances, a.interviewer) == (b.utterances, b.interviewer), a.session_id


def test_folder_from_before_interviewer_turns(daic_root: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "prepared"
    with monkeypatch.context() as m:
        m.setattr(prepare_mod, "FORMAT_VERSION", 1)
        first = prepare("daic-woz", daic_root, out)
    (out / INTERVIEWER_FILE).unlink()  # as written before the file existed
    old = load_prepared(out)  # still loads, with no interviewer turns
    assert all(s.interviewer is None for s in old.sessions)
    assert old.notes == [*first.corpus.notes, prepare_mod.OLD_FOLDER_NOTE]
    assert [s.utterances for s in old.sessions] == [s.utterances for s in first.corpus.sessions]
    # The format changed: such a folder is prepared again rather than reused.
    again = prepare("daic-woz", daic_root, out)
    assert not again.cached and (out / INTERVIEWER_FILE).is_file()
    assert prepare("daic-woz", daic_root, out).cached
