"""Manifest recipe: a user's own sessions, and the stratified grouped split."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from depscreen.corpora.manifest import prepare_manifest
from depscreen.errors import ConfigError, CorpusError

from .fixtures import daic_transcript, tree_state, write_csv, write_manifest, write_wav


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_wav(tmp_path / "audio" / "a.wav", 4.0)
    write_wav(tmp_path / "audio" / "b.wav", 2.5, sr=8000)
    (tmp_path / "t.tsv").write_text(
        daic_transcript(
            [
                (0.1, 0.4, "Participant", "set up"),
                (0.5, 1.0, "Ellie", "hello"),
                (1.2, 2.0, "Participant", "hi <sync> there"),
                (2.5, 3.5, "participant", "fine thanks"),
            ]
        )
    )
    write_csv(
        tmp_path / "t.csv",
        [["Start_Time", "End_Time", "Text"], [0.5, 1.0, "well, okay"], [1.5, 2.0, "xxx"]],
    )
    return tmp_path


def _triples(session) -> list[tuple[float, float, str]]:
    return [(u.start, u.end, u.text) for u in session.utterances]


def test_session_kinds(data: Path) -> None:
    rows = [
        {
            "session_id": "audio-only",
            "split": "train",
            "label": 0,
            "audio": "audio/a.wav",
            "gender": "F",
        },
        {"session_id": "text-only", "split": "dev", "label": 1, "text": "i feel  <sync> low"},
        {
            "session_id": "both",
            "split": "test",
            "label": 1,
            "audio": "audio/b.wav",
            "text": "okay then",
        },
        {
            "session_id": "tsv",
            "split": "Train",
            "label": 0,
            "audio": "audio/a.wav",
            "transcript": "t.tsv",
        },
        {
            "session_id": "csv",
            "split": "test",
            "label": 0,
            "transcript": "t.csv",
            "phq8_score": "4",
        },
    ]
    manifest = write_manifest(data / "m.csv", rows)
    before = tree_state(data)
    corpus = prepare_manifest(manifest)
    assert tree_state(data) == before
    assert corpus.warnings == [] and corpus.name == "manifest" and corpus.root == data
    by_id = {s.session_id: s for s in corpus.sessions}
    assert [s.session_id for s in corpus.sessions] == [
        "audio-only",
        "tsv",
        "text-only",
        "both",
        "csv",
    ]

    s = by_id["audio-only"]
    assert (s.audio, s.has_text, s.gender) == (str(data / "audio" / "a.wav"), False, "female")
    assert _triples(s) == [(0.0, 4.0, "")]

    s = by_id["text-only"]
    assert (s.audio, s.has_text, s.label, s.split) == (None, True, 1, "dev")
    assert _triples(s) == [(0.0, 0.0, "i feel low")]

    s = by_id["both"]
    assert s.has_text and _triples(s) == [(0.0, 2.5, "okay then")]
    assert any("8000 Hz" in n for n in corpus.notes)

    # DAIC-style transcript: set-up chatter and Ellie dropped, speaker case-insensitive.
    assert _triples(by_id["tsv"]) == [(1.2, 2.0, "hi there"), (2.5, 3.5, "fine thanks")]
    # Comma-separated, no speaker column: every line is the participant's.
    s = by_id["csv"]
    assert (s.audio, s.phq8_score) == (None, 4.0)
    assert _triples(s) == [(0.5, 1.0, "well, okay")]


def test_transcript_beyond_audio(data: Path) -> None:
    rows = [
        {
            "session_id": "x",
            "split": "train",
            "label": 0,
            "audio": "audio/b.wav",
            "transcript": "t.tsv",
        }
    ]
    corpus = prepare_manifest(write_manifest(data / "m.csv", rows))
    assert _triples(corpus.sessions[0]) == [(1.2, 2.0, "hi there")]
    (w,) = corpus.warnings
    assert "end after the audio ends" in w.message and w.path.endswith("t.tsv") and w.line == 5


def test_minimal_columns(data: Path) -> None:
    manifest = write_manifest(data / "m.csv", [{"session_id": "1", "label": "1", "text": "hello"}])
    (s,) = prepare_manifest(manifest).sessions
    assert (s.session_id, s.label, s.split, s.gender, s.phq8_score) == ("1", 1, "train", None, None)


# --- split assignment ----------------------------------------------------------------------


def _grouped_rows(n_speakers: int = 16) -> list[dict]:
    rows = []
    for k in range(n_speakers):
        for j in range(1 + k % 4):  # 1-4 sessions per speaker, one label per speaker
            rows.append(
                {
                    "session_id": f"s{k}-{j}",
                    "label": int(k % 3 == 0),
                    "speaker": f"spk{k}",
                    "text": "hi",
                }
            )
    return rows


def test_empty_split_is_stratified_and_grouped(data: Path) -> None:
    rows = _grouped_rows()
    corpus = prepare_manifest(write_manifest(data / "m.csv", rows), seed=3)
    speaker = {r["session_id"]: r["speaker"] for r in rows}
    splits_of = defaultdict(set)
    for s in corpus.sessions:
        splits_of[speaker[s.session_id]].add(s.split)
    assert all(len(v) == 1 for v in splits_of.values())
    counts = Counter(s.split for s in corpus.sessions)
    assert len(corpus.sessions) == 40
    assert 22 <= counts["train"] <= 26 and 6 <= counts["dev"] <= 10 and 6 <= counts["test"] <= 10
    for split in ("train", "dev", "test"):  # both classes in every split
        assert {s.label for s in corpus.by_split(split)} == {0, 1}
    assert any("assigned splits to 40 session(s)" in n for n in corpus.notes)


def test_split_assignment_is_deterministic(data: Path) -> None:
    manifest = write_manifest(data / "m.csv", _grouped_rows())

    def assignment(seed: int) -> dict[str, str]:
        return {s.session_id: s.split for s in prepare_manifest(manifest, seed=seed).sessions}

    assert assignment(0) == assignment(0)
    assert assignment(0) != assignment(1)
    # Row order does not matter.
    shuffled = write_manifest(data / "m2.csv", _grouped_rows()[::-1])
    assert {
        s.session_id: s.split for s in prepare_manifest(shuffled, seed=0).sessions
    } == assignment(0)


def test_given_and_empty_splits_mix(data: Path) -> None:
    rows = _grouped_rows(8)
    rows[0]["split"] = "test"  # spk0's only session
    rows[1]["split"] = "dev"  # spk1 has two sessions: the other one follows
    corpus = prepare_manifest(write_manifest(data / "m.csv", rows))
    split = {s.session_id: s.split for s in corpus.sessions}
    assert split["s0-0"] == "test"
    assert split["s1-0"] == split["s1-1"] == "dev"
    assert any("took their speaker's given split" in n for n in corpus.notes)


def test_sessions_without_speaker_are_their_own_group(data: Path) -> None:
    rows = [{"session_id": str(i), "label": i % 2, "text": "hi"} for i in range(10)]
    corpus = prepare_manifest(write_manifest(data / "m.csv", rows), fractions=(0.8, 0.0, 0.2))
    counts = Counter(s.split for s in corpus.sessions)
    assert counts == {"train": 8, "test": 2}


def test_bad_fractions(data: Path) -> None:
    manifest = write_manifest(data / "m.csv", [{"session_id": "1", "label": 1, "text": "a"}])
    with pytest.raises(ConfigError, match="summing to 1"):
        prepare_manifest(manifest, fractions=(0.5, 0.2, 0.2))


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "columns", "pattern"),
    [
        ([{"session_id": "1", "text": "a"}], None, r"m.csv:1: missing required column\(s\) label"),
        ([{"label": "1", "text": "a"}], None, r"m.csv:1: missing required column\(s\) session_id"),
        (
            [
                {"session_id": "1", "label": 1, "text": "a"},
                {"session_id": "2", "label": "yes", "text": "b"},
            ],
            None,
            "m.csv:3: label must be 0 or 1, found 'yes'",
        ),
        (
            [{"session_id": "1", "label": 2, "text": "a"}],
            None,
            "m.csv:2: label must be 0 or 1, found '2'",
        ),
        (
            [
                {"session_id": "1", "label": 1, "text": "a"},
                {"session_id": "1", "label": 0, "text": "b"},
            ],
            None,
            r"m.csv:3: duplicate session_id '1' \(also at line 2\)",
        ),
        (
            [{"session_id": "1", "label": 1, "text": "a", "split": "validation"}],
            None,
            "m.csv:2: unknown split 'validation'",
        ),
        (
            [{"session_id": "1", "label": 1, "speaker": "x"}],
            None,
            "m.csv:2: session 1: none of audio, transcript, text",
        ),
        (
            [{"session_id": "1", "label": 1, "text": "a", "transcript": "t.tsv"}],
            None,
            "m.csv:2: session 1: give a transcript or text, not both",
        ),
        (
            [
                {"session_id": "1", "label": 1, "text": "a", "speaker": "x", "split": "train"},
                {"session_id": "2", "label": 1, "text": "a", "speaker": "x", "split": "test"},
            ],
            None,
            "m.csv:3: speaker 'x' is given two splits",
        ),
        (
            [{"session_id": "1", "label": 1, "text": "a", "gender": "other"}],
            None,
            "m.csv:2: unknown gender 'other'",
        ),
        ([{"session_id": "", "label": 1, "text": "a"}], None, "m.csv:2: empty session_id"),
        (
            [{"session_id": "1", "label": 1, "text": "a", "phq8_score": 25}],
            None,
            "m.csv:2: phq8_score must be a number from 0 to 24, found '25'",
        ),
    ],
)
def test_manifest_errors(
    data: Path, rows: list[dict], columns: list[str] | None, pattern: str
) -> None:
    manifest = write_manifest(data / "m.csv", rows, columns)
    with pytest.raises(CorpusError, match=pattern):
        prepare_manifest(manifest)


def test_manifest_not_found(data: Path) -> None:
    with pytest.raises(CorpusError, match="nope.csv: manifest not found"):
        prepare_manifest(data / "nope.csv")


@pytest.mark.parametrize(
    ("row", "message", "path"),
    [
        ({"audio": "audio/missing.wav"}, "audio file not found: audio/missing.wav", "m.csv"),
        ({"transcript": "missing.tsv"}, "transcript file not found: missing.tsv", "m.csv"),
        ({"audio": "bad.wav"}, "not a readable audio file", "bad.wav"),
        ({"transcript": "bad.tsv"}, "bad transcript header", "bad.tsv"),
        ({"text": "xxx <sync>"}, "text has no words after cleaning", "m.csv"),
    ],
)
def test_row_skipped_with_warning(data: Path, row: dict, message: str, path: str) -> None:
    (data / "bad.wav").write_bytes(b"RIFF" + b"\x00" * 60)
    (data / "bad.tsv").write_text("when\tsaid\nnow\thi\n")
    rows = [
        {"session_id": "ok", "label": 0, "text": "fine"},
        {"session_id": "bad", "label": 1, **row},
    ]
    manifest = write_manifest(data / "m.csv", rows)
    corpus = prepare_manifest(manifest)
    assert [s.session_id for s in corpus.sessions] == ["ok"]
    (w,) = corpus.warnings
    assert message in w.message and w.path.endswith(path) and w.session_id == "bad"
    with pytest.raises(CorpusError, match=path):
        prepare_manifest(manifest, strict=True)


def test_empty_text_with_audio_kept_as_audio_only(data: Path) -> None:
    rows = [{"session_id": "x", "label": 0, "audio": "audio/a.wav", "text": "[laughter]"}]
    corpus = prepare_manifest(write_manifest(data / "m.csv", rows))
    (s,) = corpus.sessions
    assert (s.has_text, _triples(s)) == (False, [(0.0, 4.0, "")])
    assert "kept as audio only" in corpus.warnings[0].message
