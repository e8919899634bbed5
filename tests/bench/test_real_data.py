"""bench/real_data.py without the real corpora: tiny fake RAVDESS WAVs and a tiny Reddit CSV.

Checks the manifest conversion (labels, folds that never split an actor, the pairing) and
the table; nothing is trained.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
ACTORS = [f"{a:02d}" for a in range(1, 7)]  # 3 men (odd), 3 women (even)
EMOTIONS = {"01": 0, "02": 0, "04": 1, "05": None}  # neutral, calm, sad, angry (dropped)


@pytest.fixture(scope="module")
def rd():
    """bench/real_data.py as a module (it puts bench/ on sys.path for real_data_lib)."""
    path = list(sys.path)
    spec = importlib.util.spec_from_file_location("real_data", REPO / "bench" / "real_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_data"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("real_data", None)
    sys.path[:] = path


@pytest.fixture
def ravdess(tmp_path: Path) -> Path:
    root = tmp_path / "RAVDESS" / "Audio_Speech_Actors_01-24"
    # 1 s clips: prepare skips audio shorter than the shortest speech window (1 s)
    rng = np.random.default_rng(0)
    for actor in ACTORS:
        folder = root / f"Actor_{actor}"
        folder.mkdir(parents=True)
        for emotion in EMOTIONS:
            for statement in ("01", "02"):
                name = f"03-01-{emotion}-01-{statement}-01-{actor}.wav"
                sf.write(folder / name, 0.01 * rng.standard_normal(16000), 16000)
        # not audio-only speech: song (vocal 02) and audio-video (modality 01)
        sf.write(folder / f"03-02-04-01-01-01-{actor}.wav", np.zeros(800), 16000)
        sf.write(folder / f"01-01-04-01-01-01-{actor}.wav", np.zeros(800), 16000)
    return root


@pytest.fixture
def reddit(tmp_path: Path) -> Path:
    path = tmp_path / "reddit_depression.csv"
    rows = [(f"post number {i} about {'sad things' if i % 2 else 'my day'}", str(i % 2))
            for i in range(60)]
    rows += [("", "1"), ("   ", "0"),  # empty: dropped
             ("post number 3 about sad things", "1"),  # duplicate: dropped
             ("a post without a label", "")]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["clean_text", "is_depression"])
        writer.writerows(rows)
    with open(path, "ab") as fh:  # a cp1252 byte in an otherwise UTF-8 file
        fh.write(b"caf\xe9 post,0\n")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_ravdess_labels(rd, ravdess: Path):
    items, stats = rd.corpora.read_ravdess(ravdess.parent)  # any folder above Actor_XX
    assert stats["clips_found"] == len(ACTORS) * len(EMOTIONS) * 2
    assert len(items) == len(ACTORS) * 3 * 2  # angry, song and video dropped
    for it in items:
        emotion, actor = Path(it.audio).stem.split("-")[2], Path(it.audio).stem.split("-")[6]
        assert it.label == EMOTIONS[emotion]
        assert it.group == f"actor{actor}"
        assert it.gender == ("male" if int(actor) % 2 else "female")
    assert Counter(it.label for it in items) == {0: 24, 1: 12}


@pytest.mark.parametrize("k", [3, 6])
def test_fold_manifests_keep_each_actor_in_one_split(rd, ravdess, reddit, tmp_path, k):
    work = tmp_path / "work"
    args = rd.parse_args(["--ravdess", str(ravdess), "--reddit", str(reddit), "--work", str(work),
                          "--folds", str(k), "--tasks", "speech"])
    plan = rd.build_task("speech", rd.Corpora(args), args)
    assert len(plan["manifests"]) == k
    assert all(m.is_relative_to(work) for m in plan["manifests"])
    fold_of = plan["folds"]
    assert Counter(fold_of.values()) == {f: len(ACTORS) // k for f in range(k)}
    tested: Counter[str] = Counter()
    for fold, manifest in enumerate(plan["manifests"]):
        rows = read_csv(manifest)
        assert len(rows) == 36
        splits = defaultdict(set)
        for row in rows:
            splits[row["speaker"]].add(row["split"])
            expected = ("test" if fold_of[row["speaker"]] == fold
                        else "dev" if fold_of[row["speaker"]] == (fold + 1) % k else "train")
            assert row["split"] == expected
            assert row["label"] == str(EMOTIONS[Path(row["audio"]).stem.split("-")[2]])
            assert Path(row["audio"]).is_absolute() and row["text"] == ""
        assert all(len(s) == 1 for s in splits.values()), "an actor in two splits"
        tested.update(a for a, s in splits.items() if s == {"test"})
        assert {s.pop() for s in splits.values()} == {"train", "dev", "test"}
    assert tested == Counter({f"actor{a}": 1 for a in ACTORS})  # each actor tested once
    # nothing written next to the corpus
    assert not any(p.suffix == ".csv" for p in ravdess.rglob("*"))


def test_manifest_reads_back_with_depscreen(rd, ravdess, reddit, tmp_path):
    from depscreen.corpora.manifest import prepare_manifest

    args = rd.parse_args(["--ravdess", str(ravdess), "--reddit", str(reddit),
                          "--work", str(tmp_path / "w"), "--tasks", "paired"])
    plan = rd.build_task("paired", rd.Corpora(args), args)
    rows = {r["session_id"]: r for r in read_csv(plan["manifests"][0])}
    corpus = prepare_manifest(plan["manifests"][0])
    assert len(corpus.sessions) == len(rows) == 36
    for s in corpus.sessions:
        assert s.split == rows[s.session_id]["split"]
        assert s.label == int(rows[s.session_id]["label"])
        assert s.audio and s.has_text


def test_reddit_rows_folds_and_subsample(rd, ravdess, reddit, tmp_path):
    posts, stats = rd.corpora.read_reddit(reddit)
    assert stats["dropped"] == {"duplicate text": 1, "empty text": 2, "no 0/1 label": 1}
    assert stats["undecodable_characters"] == 1
    assert len(posts) == 61 and posts[-1].text == "caf post"
    assert all(it.group == it.session_id for it in posts)
    args = rd.parse_args(["--reddit", str(reddit), "--work", str(tmp_path / "w"),
                          "--tasks", "text"])
    plan = rd.build_task("text", rd.Corpora(args), args)
    assert plan["k"] == 5
    for fold, manifest in enumerate(plan["manifests"]):
        rows = read_csv(manifest)
        assert all(r["speaker"] == r["session_id"] and r["audio"] == "" for r in rows)
        by_split = defaultdict(Counter)
        for r in rows:
            by_split[r["split"]][r["label"]] += 1
        assert set(by_split["test"]) == set(by_split["dev"]) == {"0", "1"}, fold
    sub = rd.corpora.stratified_subsample(posts, 10, seed=0)
    assert len(sub) == 10 and Counter(it.label for it in sub) == {0: 5, 1: 5}
    assert sub == rd.corpora.stratified_subsample(posts, 10, seed=0)


def test_pairing_same_label_each_post_once(rd, ravdess, reddit, tmp_path):
    clips, _ = rd.corpora.read_ravdess(ravdess)
    posts, _ = rd.corpora.read_reddit(reddit)
    label_of = {p.session_id: p.label for p in posts}
    text_of = {p.session_id: p.text for p in posts}
    pairs = rd.corpora.pair_items(clips, posts, seed=1)
    assert len(pairs) == len(clips)
    used = Counter(p.parts[1] for p in pairs)
    assert max(used.values()) == 1
    clip_of = {c.session_id: c for c in clips}
    for p in pairs:
        clip = clip_of[p.parts[0]]
        assert p.label == clip.label == label_of[p.parts[1]]
        assert p.audio == clip.audio and p.group == clip.group and p.text == text_of[p.parts[1]]
    assert pairs == rd.corpora.pair_items(clips, posts, seed=1)  # deterministic
    with pytest.raises(rd.corpora.CorpusProblem, match="not enough"):
        rd.corpora.pair_items(clips, posts[:10], seed=1)
    # paired folds are the speech task's folds (same actors tested in each fold)
    assert rd.corpora.assign_folds(pairs, 6, 0) == rd.corpora.assign_folds(clips, 6, 0)


def _row(name, source, modality, family, uas, error=None):
    folds = {str(i): {"ua": ua, "f1_macro": ua - 0.01} for i, ua in enumerate(uas)}
    if error:
        folds = {"0": {"error": error}}
    return {"name": name, "source": source, "modality": modality, "family": family,
            "model": name, "flags": [], "folds": folds}


def test_table(rd):
    entry = {
        "task": "paired", "title": "pairs", "command": "python bench/real_data.py --x",
        "date": "2025-01-01T00:00:00+00:00", "protocol": "3 folds grouped by actor",
        "corpus": {"sessions": 10, "per_class": {"0": 6, "1": 4}, "groups": 3,
                   "group_name": "actors", "note": "fake"},
        "folds_planned": 3, "folds_run": [0, 1, 2],
        "rows": [
            _row("lstm-cnn-speech", "depscreen", "speech", "deep", [0.60, 0.62, 0.64]),
            _row("lstm-cnn-text", "depscreen", "text", "deep", [0.80, 0.80, 0.80]),
            _row("bilstm-cnn-fusion", "depscreen", "fusion", "deep", [0.84, 0.85, 0.86]),
            _row("stacked-fusion", "depscreen", "fusion", "classical", [0.7, 0.7]),  # 2 of 3
            _row("new-model", "depscreen", "fusion", "deep", [],
                 error="train failed (rc 2): No such option: --x | y"),
            _row("tfidf-lr-sklearn", "reference", "text", "classical", [0.75, 0.77, 0.79]),
        ],
    }
    table = rd.report.task_table(entry)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines()
             if line.startswith("| `")}
    assert "| 62.0 ± 2.0 | 61.0 ± 2.0 | 3/3 |" in lines["`lstm-cnn-speech`"]
    assert "**best deep depscreen**" in lines["`bilstm-cnn-fusion`"]
    assert "**best fusion**" in lines["`bilstm-cnn-fusion`"]
    assert "**best single-modality**" in lines["`lstm-cnn-text`"]
    assert "**best classical**" in lines["`tfidf-lr-sklearn` (reference)"]
    assert "best" not in lines["`stacked-fusion`"]  # not done on every fold
    assert "| — | — | 0/3 |" in lines["`new-model`"] and "No such option: --x / y" in table
    assert "command: `python bench/real_data.py --x`" in table
    assert "10 sessions (6 label 0, 4 label 1), 3 actors" in table
    assert ("best fusion `bilstm-cnn-fusion` UA 85.0 vs best single-modality `lstm-cnn-text` "
            "UA 80.0: +5.0 points; the claim (fusion ≥ single + 3 UA) holds.") in table


def test_results_files_and_readme_block(rd, tmp_path):
    entry = {"task": "text", "title": "t", "command": "c", "date": "d", "protocol": "p",
             "corpus": {"sessions": 2, "per_class": {"0": 1, "1": 1}, "groups": 2},
             "folds_planned": 5, "folds_run": [0],
             "rows": [_row("tfidf-lr-sklearn", "reference", "text", "classical", [0.9])]}
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    rd.report.write_results(md, js, rd.report.merge(js, {"speech": {**entry, "task": "speech"}}))
    rd.report.write_results(md, js, rd.report.merge(js, {"text": entry}))  # speech kept
    text = md.read_text()
    assert text.index("## speech") < text.index("## text") and "| 90.0 | 89.0 | 1/5 |" in text
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- real-data:start -->\nold\n<!-- real-data:end -->\nend\n")
    assert rd.report.update_readme(readme, "NEW\n")
    assert readme.read_text() == ("intro\n<!-- real-data:start -->\nNEW\n"
                                  "<!-- real-data:end -->\nend\n")
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not rd.report.update_readme(plain, "NEW\n") and plain.read_text() == "no markers\n"


def test_configs_and_run_folders(rd, tmp_path):
    assert rd.select_configs("lstm-cnn-speech*,mfcc-stats-lr") == {
        "lstm-cnn-speech", "lstm-cnn-speech/small", "mfcc-stats-lr"}
    with pytest.raises(ValueError, match="matches no config"):
        rd.select_configs("nope")
    for name, (tasks, model, _flags) in rd.CONFIGS.items():
        assert set(tasks) <= set(rd.TASKS) and model in rd.MODEL_KIND, name
    cfg = rd.Config("a/b", ("speech",), "lstm-speech", ())
    job = rd.Job("speech", 0, cfg, tmp_path, tmp_path / "runs", 2, 0, "fast")
    other = rd.Job("speech", 0, rd.Config("a/b", ("speech",), "lstm-speech", ("--spec-augment",)),
                   tmp_path, tmp_path / "runs", 2, 0, "fast")
    assert job.run_dir.parent == tmp_path / "runs" / "a__b" and job.run_dir != other.run_dir
    log = tmp_path / "x.log"
    log.write_text("$ depscreen train ...\nUsage: depscreen train [OPTIONS]\n"
                   "╭─ Error ─────────╮\n│ No such option: --speech-features │\n╰────────╯\n")
    from real_data_lib.runner import error_line

    assert error_line(log) == "No such option: --speech-features"


def test_chosen_on_dev_per_fold_never_looks_at_test(rd):
    """Per fold, the configuration with the best dev UA is taken, whatever its test UA."""
    def row(name, family, folds):
        return {"name": name, "source": "depscreen", "modality": "speech", "family": family,
                "model": name, "flags": [], "folds": {
                    k: {"ua": t, "f1_macro": t, "dev_ua": d} for k, (d, t) in folds.items()}}

    entry = {"task": "speech", "folds_run": [0, 1], "folds_planned": 2, "rows": [
        row("a", "deep", {"0": (0.9, 0.5), "1": (0.6, 0.9)}),
        row("b", "deep", {"0": (0.7, 1.0), "1": (0.8, 0.6)}),
        row("c", "classical", {"0": (0.5, 0.7), "1": (0.5, 0.8)}),
    ]}
    deep = rd.report.dev_selected(entry, "deep")
    assert deep["picks"] == ["a", "b"]  # not b then a, which test would prefer
    assert [deep["folds"][k]["ua"] for k in ("0", "1")] == [0.5, 0.6]
    assert rd.report.dev_selected(entry, "classical")["picks"] == ["c", "c"]
    del entry["rows"][2]["folds"]["1"]["dev_ua"]  # a result recorded before dev UA was kept
    assert rd.report.dev_selected(entry, "classical") is None
