"""E-DAIC recipe: labels/ split files, detailed item scores, participant-only transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from depscreen.corpora.edaic import prepare_edaic
from depscreen.errors import CorpusError

from .fixtures import (
    EDAIC_EXPECTED,
    EDAIC_HEADER,
    EdaicSession,
    build_edaic,
    tree_state,
    write_csv,
    write_wav,
)


def _corpus_root(tmp_path: Path, **kwargs) -> Path:
    sessions = [
        EdaicSession("300", "train", score=4, gender="female"),
        EdaicSession("301", "train", score=14, gender="male"),
        EdaicSession("600", "dev", score=11, gender="Male"),
        EdaicSession("700", "test", score=2),
    ]
    return build_edaic(tmp_path, sessions, **kwargs)


def _triples(session) -> list[tuple[float, float, str]]:
    return [(u.start, u.end, u.text) for u in session.utterances]


def test_sessions_labels_and_utterances(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    before = tree_state(root)
    corpus = prepare_edaic(root)
    assert tree_state(root) == before
    assert corpus.name == "edaic" and corpus.warnings == []
    by_id = {s.session_id: s for s in corpus.sessions}
    assert [(s.session_id, s.split) for s in corpus.sessions] == [
        ("300", "train"),
        ("301", "train"),
        ("600", "dev"),
        ("700", "test"),
    ]
    assert [(s.label, s.phq8_score, s.gender) for s in corpus.sessions] == [
        (0, 4.0, "female"),
        (1, 14.0, "male"),
        (1, 11.0, "male"),
        (0, 2.0, "female"),
    ]
    # Participant-only transcript with quoted commas; a token-only line disappears; no
    # DAIC-WOZ offsets or pre-interview cut apply.
    for s in corpus.sessions:
        assert _triples(s) == EDAIC_EXPECTED
        assert s.audio == str(root / f"{s.session_id}_P" / f"{s.session_id}_AUDIO.wav")
    assert by_id["301"].phq8_items == {
        "NoInterest": 3,
        "Depressed": 3,
        "Sleep": 3,
        "Tired": 3,
        "Appetite": 2,
        "Failure": 0,
        "Concentrating": 0,
        "Moving": 0,
    }


def test_without_detailed_labels(tmp_path: Path) -> None:
    corpus = prepare_edaic(_corpus_root(tmp_path, detailed=False))
    assert all(s.phq8_items is None for s in corpus.sessions)
    assert any("Detailed_PHQ8_Labels.csv not found" in n for n in corpus.notes)


def test_detailed_columns_matched_by_item_name(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path, detailed=False)
    header = [
        "participant_id",
        "noInterest (0-3)",
        "phq8depressed",
        "Sleep",
        "TIRED",
        "appetite_score",
        "Moving",
        "Other",
    ]
    write_csv(root / "labels" / "Detailed_PHQ8_Labels.csv", [header, [301, 1, 2, 3, 0, "", 1, 9]])
    by_id = {s.session_id: s for s in prepare_edaic(root).sessions}
    assert by_id["301"].phq8_items == {
        "NoInterest": 1,
        "Depressed": 2,
        "Sleep": 3,
        "Tired": 0,
        "Appetite": None,
        "Failure": None,
        "Concentrating": None,
        "Moving": 1,
    }
    assert by_id["300"].phq8_items is None


def test_test_split_without_labels(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    write_csv(root / "labels" / "test_split.csv", [["Participant_ID", "Gender"], [700, "female"]])
    (test,) = prepare_edaic(root).by_split("test")
    assert (test.label, test.phq8_score, test.gender) == (None, None, "female")


def test_missing_split_file_noted(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    (root / "labels" / "dev_split.csv").unlink()
    corpus = prepare_edaic(root)
    assert corpus.by_split("dev") == []
    assert any("dev_split.csv not found" in n for n in corpus.notes)


# --- bad input -----------------------------------------------------------------------------


def test_no_split_files(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    for split in ("train", "dev", "test"):
        (root / "labels" / f"{split}_split.csv").unlink()
    with pytest.raises(CorpusError, match="no E-DAIC split files found .*labels/train_split.csv"):
        prepare_edaic(root)


def test_listed_session_without_folder(tmp_path: Path) -> None:
    root = build_edaic(
        tmp_path, [EdaicSession("300"), EdaicSession("601", "dev", omit_folder=True)]
    )
    with pytest.raises(
        CorpusError, match=r"dev_split.csv:2: participant 601 .*601_P/ does not exist"
    ):
        prepare_edaic(root)


def test_duplicate_across_splits(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    write_csv(
        root / "labels" / "test_split.csv",
        [EDAIC_HEADER, [700, "female", 0, 2, 1, 1], [300, "female", 0, 4, 1, 1]],
    )
    with pytest.raises(
        CorpusError,
        match=r"test_split.csv:3: duplicate participant 300 \(also at train_split.csv:2\)",
    ):
        prepare_edaic(root)


def test_non_numeric_score(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path)
    write_csv(root / "labels" / "dev_split.csv", [EDAIC_HEADER, [600, "male", 1, "high", 1, 1]])
    with pytest.raises(CorpusError, match=r"dev_split.csv:2: PHQ_Score must be a number"):
        prepare_edaic(root)


def test_bad_detailed_value(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path, detailed=False)
    write_csv(
        root / "labels" / "Detailed_PHQ8_Labels.csv",
        [["Participant_ID", "PHQ_8Sleep"], [300, 1], [301, 5]],
    )
    with pytest.raises(
        CorpusError, match=r"Detailed_PHQ8_Labels.csv:3: PHQ_8Sleep must be 0, 1, 2, 3 or empty"
    ):
        prepare_edaic(root)


def test_detailed_without_item_columns(tmp_path: Path) -> None:
    root = _corpus_root(tmp_path, detailed=False)
    write_csv(root / "labels" / "Detailed_PHQ8_Labels.csv", [["Participant_ID", "Total"], [300, 1]])
    with pytest.raises(
        CorpusError, match=r"Detailed_PHQ8_Labels.csv:1: bad header: no PHQ-8 item columns"
    ):
        prepare_edaic(root)


@pytest.mark.parametrize(
    ("breakage", "message", "file"),
    [
        ("empty wav", "empty file", "300_AUDIO.wav"),
        ("no transcript", "no 300_Transcript.csv", "300_P"),
        ("speaker header", "bad transcript header", "300_Transcript.csv"),
        ("beyond audio", "end after the audio ends", "300_Transcript.csv"),
    ],
)
def test_session_skipped_with_warning(
    tmp_path: Path, breakage: str, message: str, file: str
) -> None:
    root = _corpus_root(tmp_path)
    folder = root / "300_P"
    if breakage == "empty wav":
        (folder / "300_AUDIO.wav").write_bytes(b"")
    elif breakage == "no transcript":
        (folder / "300_Transcript.csv").unlink()
    elif breakage == "speaker header":
        write_csv(folder / "300_Transcript.csv", [["Begin", "End_Time", "Text"], [0.5, 1.0, "hi"]])
    else:
        write_wav(folder / "300_AUDIO.wav", 1.5)  # both utterances end later
    corpus = prepare_edaic(root)
    assert "300" not in {s.session_id for s in corpus.sessions}
    assert any(message in w.message for w in corpus.warnings), [str(w) for w in corpus.warnings]
    assert any(file in (w.path or "") for w in corpus.warnings)
    with pytest.raises(CorpusError, match=file):
        prepare_edaic(root, strict=True)
