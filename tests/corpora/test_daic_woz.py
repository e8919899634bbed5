"""DAIC-WOZ recipe: layouts (folders, zips), every known quirk, and bad input."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from depscreen import audio
from depscreen.corpora.daic_woz import INTERRUPTIONS, SYNC_OFFSETS, prepare_daic_woz
from depscreen.corpora.records import Corpus, Session
from depscreen.corpora.transcripts import clean_text
from depscreen.errors import CorpusError

from .fixtures import (
    DAIC_DEV,
    DAIC_FULL_TEST,
    DAIC_LABEL_HEADER,
    DAIC_TEST,
    DAIC_TRAIN,
    DEFAULT_EXPECTED,
    DaicSession,
    build_daic,
    daic_transcript,
    small_daic,
    tree_state,
    wav_bytes,
    write_csv,
)

NO_ELLIE_LINES = [
    (0.2, 1.5, "Participant", "hello there"),
    (2.0, 3.0, "participant", "i'm good"),
]
INTERRUPTION_LINES = {
    # 373: interruption 395-428 s; overlaps at either edge are dropped, touching is not.
    "373": [
        (10.0, 11.0, "Ellie", "hi"),
        (11.5, 13.0, "Participant", "before the break"),
        (390.0, 396.0, "Participant", "overlaps the start"),
        (400.0, 410.0, "Participant", "inside the break"),
        (427.0, 429.0, "Participant", "overlaps the end"),
        (428.0, 430.0, "Participant", "right after"),
        (431.0, 435.0, "Participant", "later on"),
    ],
    # 444: interruption 286-387 s.
    "444": [
        (5.0, 6.0, "Ellie", "hello"),
        (280.0, 285.9, "Participant", "just before"),
        (300.0, 301.0, "Participant", "during"),
        (387.0, 390.0, "Participant", "just after"),
    ],
}
INTERRUPTION_EXPECTED = {
    "373": [
        (11.5, 13.0, "before the break"),
        (428.0, 430.0, "right after"),
        (431.0, 435.0, "later on"),
    ],
    "444": [(280.0, 285.9, "just before"), (387.0, 390.0, "just after")],
}
CASE_LINES = [
    (1.0, 2.0, "ELLIE", "hi"),
    (2.5, 4.0, "PARTICIPANT", "upper case speaker"),
    (4.5, 5.0, " participant ", "padded speaker"),
]


def _sessions() -> list[DaicSession]:
    long = {"silent": True}
    return [
        DaicSession("300", "train"),
        DaicSession("301", "train", score=12, layout="zip"),
        DaicSession("302", "train", layout="zip_flat"),
        DaicSession("303", "dev", layout="both"),
        DaicSession("304", "dev", lines=CASE_LINES, sr=44100, channels=2, seconds=6),
        DaicSession(
            "305",
            "dev",
            transcript=daic_transcript(
                [(1.0, 2.0, "Ellie", "hi"), (2.5, 3.5, "Participant", "un café")]
            ).encode("cp1252"),
        ),
        DaicSession("318", "train", seconds=45, **long),
        DaicSession("321", "dev", seconds=45, layout="zip", **long),
        DaicSession("341", "test", score=15, seconds=45, **long),
        DaicSession("362", "test", seconds=45, layout="zip_flat", **long),
        DaicSession("373", "train", seconds=440, lines=INTERRUPTION_LINES["373"], **long),
        DaicSession(
            "444", "dev", seconds=400, lines=INTERRUPTION_LINES["444"], layout="zip", **long
        ),
        DaicSession("451", "train", lines=NO_ELLIE_LINES),
        DaicSession("458", "test", lines=NO_ELLIE_LINES, layout="zip"),
        DaicSession("480", "dev", lines=NO_ELLIE_LINES),
        DaicSession("409", "train", score=10, binary=0, items=[3, 3, 2, 2, None, 0, 0, 0]),
    ]


@pytest.fixture(scope="module")
def daic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Corpus, dict]:
    root = build_daic(tmp_path_factory.mktemp("daic"), _sessions())
    before = tree_state(root)
    corpus = prepare_daic_woz(root)
    return root, before, corpus, {s.session_id: s for s in corpus.sessions}


def _triples(session: Session) -> list[tuple[float, float, str]]:
    return [(u.start, u.end, u.text) for u in session.utterances]


def _has_note(corpus: Corpus, *parts: str) -> bool:
    return any(all(p in n for p in parts) for n in corpus.notes)


# --- a well-formed corpus ------------------------------------------------------------------


def test_splits_and_ids(daic) -> None:
    _, _, corpus, _ = daic
    assert [s.session_id for s in corpus.by_split("train")] == [
        "300",
        "301",
        "302",
        "318",
        "373",
        "409",
        "451",
    ]
    assert [s.session_id for s in corpus.by_split("dev")] == [
        "303",
        "304",
        "305",
        "321",
        "444",
        "480",
    ]
    assert [s.session_id for s in corpus.by_split("test")] == ["341", "362", "458"]
    assert corpus.name == "daic_woz"


def test_only_expected_warning(daic) -> None:
    _, _, corpus, _ = daic
    assert [w.session_id for w in corpus.warnings] == ["305"]  # the cp1252 transcript


def test_folder_and_zip_layouts(daic) -> None:
    root, _, corpus, by_id = daic
    assert by_id["300"].audio == str(root / "300_P" / "300_AUDIO.wav")
    assert by_id["301"].audio == audio.zip_ref(root / "301_P.zip", "301_P/301_AUDIO.wav")
    assert by_id["302"].audio == audio.zip_ref(root / "302_P.zip", "302_AUDIO.wav")
    # 303 has a folder and a (broken) zip: the folder is read, the zip never opened.
    assert by_id["303"].audio == str(root / "303_P" / "303_AUDIO.wav")
    for sid in ("300", "301", "302", "303"):
        assert _triples(by_id[sid]) == DEFAULT_EXPECTED, sid
    assert _has_note(corpus, "both folder and zip", "303")
    assert _has_note(corpus, "zip archives", "301", "302")


def test_zip_audio_is_readable_in_place(daic) -> None:
    _, _, _, by_id = daic
    samples, notes = audio.load_audio(by_id["301"].audio, start=2.1, end=3.4)
    written, _ = sf.read(io.BytesIO(wav_bytes(10.0, seed=301)), dtype="float32")
    np.testing.assert_array_equal(samples, written[round(2.1 * 16000) : round(3.4 * 16000)])
    assert notes == []


def test_pre_interview_lines_dropped(daic) -> None:
    _, _, corpus, by_id = daic
    assert all(u.text != "is this thing on" for u in by_id["300"].utterances)
    assert _has_note(corpus, "before the interviewer's first line")


@pytest.mark.parametrize("sid", sorted(SYNC_OFFSETS))
def test_sync_offsets(daic, sid: str) -> None:
    _, _, corpus, by_id = daic
    offset = SYNC_OFFSETS[sid]
    expected = [(round(a + offset, 6), round(b + offset, 6), t) for a, b, t in DEFAULT_EXPECTED]
    assert _triples(by_id[sid]) == expected
    assert _has_note(corpus, f"session {sid}", "sync offset")


@pytest.mark.parametrize("sid", sorted(INTERRUPTIONS))
def test_interruptions_cut(daic, sid: str) -> None:
    _, _, corpus, by_id = daic
    assert _triples(by_id[sid]) == INTERRUPTION_EXPECTED[sid]
    dropped = len(INTERRUPTION_LINES[sid]) - 1 - len(INTERRUPTION_EXPECTED[sid])
    assert _has_note(corpus, f"session {sid}", f"dropped {dropped} utterance(s)", "interruption")


@pytest.mark.parametrize("sid", ["451", "458", "480"])
def test_sessions_without_interviewer(daic, sid: str) -> None:
    _, _, corpus, by_id = daic
    assert _triples(by_id[sid]) == [(0.2, 1.5, "hello there"), (2.0, 3.0, "i'm good")]
    assert _has_note(corpus, f"session {sid}", "no interviewer lines", "known quirk")


def test_label_fix_409(daic) -> None:
    _, _, corpus, by_id = daic
    s = by_id["409"]
    assert (s.label, s.phq8_score) == (1, 10.0)
    assert s.phq8_items == {
        "NoInterest": 3,
        "Depressed": 3,
        "Sleep": 2,
        "Tired": 2,
        "Appetite": None,
        "Failure": 0,
        "Concentrating": 0,
        "Moving": 0,
    }
    assert _has_note(corpus, "session 409", "PHQ8_Binary 0 -> 1")


def test_labels_and_gender(daic) -> None:
    _, _, corpus, by_id = daic
    assert (by_id["301"].label, by_id["301"].phq8_score, by_id["301"].gender) == (1, 12.0, "male")
    assert (by_id["300"].label, by_id["300"].phq8_score) == (0, 3.0)
    # Test labels come from full_test_split.csv (PHQ_ columns); its blank rows are skipped.
    assert (by_id["341"].label, by_id["341"].phq8_score, by_id["341"].gender) == (1, 15.0, "male")
    assert by_id["341"].phq8_items is None
    assert _has_note(corpus, DAIC_FULL_TEST, "2 blank row(s)")
    assert all(s.split in ("train", "dev", "test") for s in corpus.sessions)


def test_speaker_case_and_audio_format_note(daic) -> None:
    _, _, corpus, by_id = daic
    assert _triples(by_id["304"]) == [
        (2.5, 4.0, "upper case speaker"),
        (4.5, 5.0, "padded speaker"),
    ]
    assert _has_note(corpus, "session 304", "44100 Hz", "2 channel")


def test_non_utf8_transcript_falls_back(daic) -> None:
    _, _, corpus, by_id = daic
    assert _triples(by_id["305"]) == [(2.5, 3.5, "un café")]
    (w,) = corpus.warnings
    assert "cp1252" in w.message and w.path.endswith("305_TRANSCRIPT.csv")


def test_root_unchanged(daic) -> None:
    root, before, _, _ = daic
    prepare_daic_woz(root)
    assert tree_state(root) == before


# --- the text cleaner ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<sync> hello", "hello"),
        ("<synch>", ""),
        ("[sync] yes [synch]", "yes"),
        ("i was [laughter] there", "i was there"),
        ("xxx i xxxx think", "i think"),
        ("xxxxx stays", "xxxxx stays"),
        ("my name is scrubbed_entry okay", "my name is okay"),
        ("so <um laughs> anyway", "so anyway"),
        ("  lots \t of   space ", "lots of space"),
        ("TEXT [Laughter] <SYNC>", "TEXT"),
    ],
)
def test_clean_text(value: str, expected: str) -> None:
    assert clean_text(value) == expected


# --- label variants ------------------------------------------------------------------------


def test_test_labels_none_without_full_test(tmp_path: Path) -> None:
    corpus = prepare_daic_woz(small_daic(tmp_path, full_test=False))
    (test,) = corpus.by_split("test")
    assert (test.label, test.phq8_score, test.gender) == (None, None, "male")
    assert _has_note(corpus, DAIC_FULL_TEST, "no labels")


def test_full_test_split_alone(tmp_path: Path) -> None:
    corpus = prepare_daic_woz(small_daic(tmp_path, test_split=False))
    (test,) = corpus.by_split("test")
    assert (test.session_id, test.label, test.phq8_score) == ("302", 0, 3.0)


def test_inconsistent_binary_warns_and_keeps_label(tmp_path: Path) -> None:
    root = build_daic(tmp_path, [DaicSession("300", score=12, binary=0), DaicSession("301", "dev")])
    corpus = prepare_daic_woz(root)
    assert corpus.sessions[0].label == 0
    (w,) = corpus.warnings
    assert "disagrees" in w.message and w.path.endswith(DAIC_TRAIN) and w.line == 2
    with pytest.raises(CorpusError, match=DAIC_TRAIN):
        prepare_daic_woz(root, strict=True)


# --- bad input that stops ------------------------------------------------------------------


def _rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


def test_no_split_files(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    for name in (DAIC_TRAIN, DAIC_DEV, DAIC_TEST, DAIC_FULL_TEST):
        (root / name).unlink()
    with pytest.raises(CorpusError, match="no DAIC-WOZ split files") as e:
        prepare_daic_woz(root)
    assert DAIC_TRAIN in str(e.value)


def test_root_missing(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus folder not found"):
        prepare_daic_woz(tmp_path / "nope")


def test_label_file_not_utf8(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    (root / DAIC_DEV).write_bytes(
        (",".join(DAIC_LABEL_HEADER) + "\n301,1,12,\xff").encode("latin-1")
    )
    with pytest.raises(CorpusError, match=f"{DAIC_DEV}: label file is not UTF-8"):
        prepare_daic_woz(root)


def test_bad_header(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    _rewrite(root / DAIC_TRAIN, "PHQ8_Score", "Score")
    with pytest.raises(CorpusError, match=rf"{DAIC_TRAIN}:1: bad header: no column phq8_score"):
        prepare_daic_woz(root)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("300,0,3,", "300,no,3,", "PHQ8_Binary must be 0 or 1, found 'no'"),
        ("300,0,3,", "300,0,three,", "PHQ8_Score must be a number"),
        ("300,0,3,", "300,0,25,", "PHQ8_Score must be a number from 0 to 24, found '25'"),
        ("300,0,3,", "300,0,-1,", "PHQ8_Score must be a number from 0 to 24, found '-1'"),
        ("300,0,3,", "300,0,nan,", "PHQ8_Score must be a number from 0 to 24, found 'nan'"),
        ("300,0,3,", "30x,0,3,", "participant ID '30x' is not a whole number"),
        ("300,0,3,1,3", "300,0,3,1,7", "PHQ8_NoInterest must be 0, 1, 2, 3 or empty"),
        ("300,0,3,1,", "300,0,3,2,", "unknown gender '2'"),
    ],
)
def test_bad_label_values(tmp_path: Path, old: str, new: str, message: str) -> None:
    root = small_daic(tmp_path)
    _rewrite(root / DAIC_TRAIN, old, new)
    with pytest.raises(CorpusError, match=f"{DAIC_TRAIN}:2: ") as e:
        prepare_daic_woz(root)
    assert message.lower() in str(e.value).lower()


def test_bad_full_test_value(tmp_path: Path) -> None:
    root = small_daic(tmp_path, blank_rows=0)
    _rewrite(root / DAIC_FULL_TEST, "302,0,3", "302,0,")
    with pytest.raises(CorpusError, match=f"{DAIC_FULL_TEST}:2: PHQ_Score must be a number"):
        prepare_daic_woz(root)


def test_split_id_without_session_data(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    with open(root / DAIC_DEV, "a") as f:
        f.write("399,0,2,1,0,0,0,0,0,0,1,1\n")
    with pytest.raises(CorpusError, match=rf"{DAIC_DEV}:3: participant 399 .*399_P/ nor 399_P.zip"):
        prepare_daic_woz(root)


def test_duplicate_within_a_file(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    with open(root / DAIC_TRAIN, "a") as f:
        f.write("300,0,3,1,3,0,0,0,0,0,0,0\n")
    with pytest.raises(
        CorpusError, match=rf"{DAIC_TRAIN}:3: duplicate participant 300 \(also at {DAIC_TRAIN}:2\)"
    ):
        prepare_daic_woz(root)


def test_duplicate_across_files(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    with open(root / DAIC_DEV, "a") as f:
        f.write("300,0,3,1,3,0,0,0,0,0,0,0\n")
    with pytest.raises(
        CorpusError, match=rf"{DAIC_DEV}:3: duplicate participant 300 \(also at {DAIC_TRAIN}:2\)"
    ):
        prepare_daic_woz(root)


def test_test_files_disagree(tmp_path: Path) -> None:
    root = small_daic(tmp_path, blank_rows=0)
    with open(root / DAIC_FULL_TEST, "a") as f:
        f.write("300,0,3,1\n")
    with pytest.raises(
        CorpusError, match=f"{DAIC_FULL_TEST}:3: participant 300 is not in {DAIC_TEST}"
    ):
        prepare_daic_woz(root)


# --- bad input that skips one session ------------------------------------------------------

BAD_SESSIONS = {
    "empty wav": (DaicSession("300", wav=b""), "empty file", "300_AUDIO.wav"),
    "not a wav": (
        DaicSession("300", wav=b"RIFF\x00\x00junk" * 10),
        "not a readable audio file",
        "300_AUDIO.wav",
    ),
    "no samples": (DaicSession("300", wav=wav_bytes(0)), "no samples", "300_AUDIO.wav"),
    "no audio": (DaicSession("300", omit_audio=True), "no 300_AUDIO.wav", "300_P"),
    "no transcript": (DaicSession("300", omit_transcript=True), "no 300_TRANSCRIPT.csv", "300_P"),
    "zip no transcript": (
        DaicSession("300", omit_transcript=True, layout="zip"),
        "no 300_TRANSCRIPT.csv",
        "300_P.zip",
    ),
    "bad zip": (
        DaicSession("300", layout="zip", zip_bytes=b"PK\x03\x04 truncated"),
        "unreadable zip archive",
        "300_P.zip",
    ),
    "bad header": (
        DaicSession("300", transcript=b"start\tstop\twho\twhat\n1.0\t2.0\tParticipant\thi\n"),
        "bad transcript header",
        "300_TRANSCRIPT.csv",
    ),
    "comma separated": (
        DaicSession(
            "300", transcript=daic_transcript([(1, 2, "Participant", "hi")], sep=",").encode()
        ),
        "bad transcript header",
        "300_TRANSCRIPT.csv",
    ),
    "bad time": (
        DaicSession(
            "300",
            transcript=daic_transcript([(1, 2, "Ellie", "hi"), (3, 4, "Participant", "a")])
            .replace("3.0", "abc")
            .encode(),
        ),
        # The field is not quoted: transcript content stays out of warnings (#13 item 5).
        "start time '…' is not a number",
        "300_TRANSCRIPT.csv",
    ),
    "too few fields": (
        DaicSession("300", transcript=b"start_time\tstop_time\tspeaker\tvalue\n1.0\tEllie\n"),
        "2 fields, the header has 4",
        "300_TRANSCRIPT.csv",
    ),
    "interviewer only": (
        DaicSession("300", lines=[(1.0, 2.0, "Ellie", "hi"), (3.0, 4.0, "Ellie", "anyone?")]),
        "no participant speech",
        "300_TRANSCRIPT.csv",
    ),
    "only set-up chatter": (
        DaicSession("300", lines=[(0.5, 0.9, "Participant", "testing"), (1.0, 2.0, "Ellie", "hi")]),
        "no participant speech after the interviewer's first line",
        "300_TRANSCRIPT.csv",
    ),
    "only tokens": (
        DaicSession(
            "300", lines=[(1.0, 2.0, "Ellie", "hi"), (3.0, 4.0, "Participant", "<sync> xxx")]
        ),
        "only non-speech tokens",
        "300_TRANSCRIPT.csv",
    ),
    "beyond audio": (
        DaicSession("300", seconds=3.0),
        "end after the audio ends",
        "300_TRANSCRIPT.csv",
    ),
    "empty transcript": (
        DaicSession("300", transcript=b""),
        "empty transcript",
        "300_TRANSCRIPT.csv",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SESSIONS))
def test_session_skipped_with_warning(tmp_path: Path, case: str) -> None:
    spec, message, file = BAD_SESSIONS[case]
    root = build_daic(tmp_path, [spec, DaicSession("301", "dev")])
    corpus = prepare_daic_woz(root)
    assert [s.session_id for s in corpus.sessions] == ["301"]
    assert corpus.warnings, case
    assert any(message in w.message for w in corpus.warnings), [w.message for w in corpus.warnings]
    assert all(w.session_id == "300" for w in corpus.warnings)
    assert any(file in (w.path or "") for w in corpus.warnings)
    with pytest.raises(CorpusError, match=file):
        prepare_daic_woz(root, strict=True)


def test_crlf_and_bom_transcript(tmp_path: Path) -> None:
    text = "\ufeff" + daic_transcript([(1.0, 2.0, "Ellie", "hi"), (2.5, 3.0, "Participant", "ok")])
    data = text.replace("\n", "\r\n").encode("utf-8")
    root = build_daic(tmp_path, [DaicSession("300", transcript=data), DaicSession("301", "dev")])
    corpus = prepare_daic_woz(root)
    assert corpus.warnings == []
    assert _triples(corpus.sessions[0]) == [(2.5, 3.0, "ok")]


def test_unparseable_line_number(tmp_path: Path) -> None:
    text = "start_time\tstop_time\tspeaker\tvalue\n1.0\t2.0\tEllie\thi\n3.0\tx\tParticipant\tok\n"
    root = build_daic(
        tmp_path, [DaicSession("300", transcript=text.encode()), DaicSession("301", "dev")]
    )
    (w,) = prepare_daic_woz(root).warnings
    assert w.line == 3 and w.path.endswith("300_TRANSCRIPT.csv")


@pytest.mark.parametrize(("start", "stop"), [(-1.0, 2.0), (4.0, 3.0)])
def test_bad_times_drop_one_utterance(tmp_path: Path, start: float, stop: float) -> None:
    lines = [
        (1.0, 2.0, "Ellie", "hi"),
        (start, stop, "Participant", "broken"),
        (5.0, 6.0, "Participant", "fine"),
    ]
    root = build_daic(tmp_path, [DaicSession("300", lines=lines), DaicSession("301", "dev")])
    corpus = prepare_daic_woz(root)
    assert _triples(corpus.sessions[0]) == [(5.0, 6.0, "fine")]
    (w,) = corpus.warnings
    assert "negative or reversed times" in w.message
    assert (w.line, w.session_id) == (3, "300") and w.path.endswith("300_TRANSCRIPT.csv")


def test_some_utterances_beyond_audio(tmp_path: Path) -> None:
    # Audio of 6 s: the last two default utterances (ending at 7.0 and 9.5 s) are dropped.
    root = build_daic(tmp_path, [DaicSession("300", seconds=6.0), DaicSession("301", "dev")])
    corpus = prepare_daic_woz(root)
    assert _triples(corpus.sessions[0]) == DEFAULT_EXPECTED[:1]
    (w,) = corpus.warnings
    assert "2 utterance(s) end after the audio ends" in w.message and w.line == 6


def test_max_audio_bytes(tmp_path: Path) -> None:
    root = small_daic(tmp_path)
    corpus = prepare_daic_woz(root, max_audio_bytes=1000)
    assert corpus.sessions == []
    assert len(corpus.warnings) == 3 and "above the limit" in corpus.warnings[0].message


def test_zip_with_unexpected_member_names(tmp_path: Path) -> None:
    root = build_daic(tmp_path, [DaicSession("301", "dev")])
    with zipfile.ZipFile(root / "300_P.zip", "w") as z:
        z.writestr("300_P/readme.txt", "nothing useful")
    write_csv(root / DAIC_TRAIN, [DAIC_LABEL_HEADER, ["300", 0, 3, 1] + [0] * 8])
    corpus = prepare_daic_woz(root)
    assert [s.session_id for s in corpus.sessions] == ["301"]
    assert "no 300_AUDIO.wav" in corpus.warnings[0].message
