"""How informative is each channel of the synthetic corpus? (calibrates the synth defaults)

Generates a synthetic corpus (or reuses one made with the same settings) and measures, per
participant, with cross-validated logistic regression:

* text   — TF-IDF over everything the participant said (ground-truth utterances);
* speech — prosody computed from the WAV and transcript times only: speech rate (words per
           utterance second), RMS level, pitch spread (yin, inter-quartile range in semitones
           over voiced frames), response latency (Ellie's line end -> participant start),
           pause ratio inside utterances;
* both   — the two feature sets concatenated (and, for reference, the mean of the two
           single-channel probabilities).

Also an utterance-level check (each utterance labelled with its participant's label,
participant-grouped folds), since the models trained later work per utterance.

    .venv/bin/python bench/calibrate_synth.py --participants 120 --out data/synth_calib
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from depscreen.corpora.synthetic import SynthConfig, generate_corpus, load_truth

SR = 16000
HOP = 320  # 20 ms frames
SPEECH_FEATURES = ("speech_rate", "rms_db", "pitch_iqr", "latency", "pause_ratio")
SPEECH_BLOCK_WEIGHT = 0.2  # scale of the z-scored speech features when concatenated with TF-IDF


# ----------------------------------------------------------------------------- features
def _frames_db(x: np.ndarray) -> np.ndarray:
    rms = librosa.feature.rms(y=x, frame_length=640, hop_length=HOP, center=False)[0]
    return 20 * np.log10(np.maximum(rms, 1e-6))


def pitch_iqr(x: np.ndarray) -> float:
    """Inter-quartile range of f0 (semitones) over loud, low-ZCR frames: robust to yin's
    octave errors, monotone in eSpeak's pitch-range parameter."""
    if x.size < 2048:
        return np.nan
    f0 = librosa.yin(x, fmin=60, fmax=400, sr=SR, frame_length=1024, hop_length=HOP)
    rms = librosa.feature.rms(y=x, frame_length=1024, hop_length=HOP)[0]
    zcr = librosa.feature.zero_crossing_rate(x, frame_length=1024, hop_length=HOP)[0]
    n = min(len(f0), len(rms), len(zcr))
    loud = rms[:n] > 0.3 * np.median(rms[:n])
    voiced = loud & (zcr[:n] < 0.1)
    if voiced.sum() < 10:
        return np.nan
    st = 12 * np.log2(f0[:n][voiced])
    q75, q25 = np.percentile(st, [75, 25])
    return float(q75 - q25)


def utterance_features(x: np.ndarray, text: str) -> dict[str, float]:
    db = _frames_db(x) if x.size >= 640 else np.array([-120.0])
    speech = db > np.percentile(db, 90) - 25  # frames within 25 dB of the loud part
    return {
        "speech_rate": len(text.split()) / max(x.size / SR, 1e-3),
        "rms_db": float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-9)),
        "pause_ratio": float(1.0 - speech.mean()),
    }


def _ellie_ends(root: Path, session: dict) -> list[float]:
    """Ellie's line ends in audio time (transcript time + the session's offset)."""
    sid = session["id"]
    offset = session["quirks"]["transcript_offset"]
    with open(root / f"{sid}_P" / f"{sid}_TRANSCRIPT.csv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return sorted(float(r["stop_time"]) + offset for r in rows if r["speaker"].lower() == "ellie")


def session_features(root: Path, session: dict) -> tuple[dict, list[dict]]:
    """Participant-level features and per-utterance rows (text, rate, rms, pause)."""
    sid = session["id"]
    audio, sr = sf.read(root / f"{sid}_P" / f"{sid}_AUDIO.wav", dtype="float32")
    assert sr == SR
    ellie = np.array(_ellie_ends(root, session))
    utts, latencies, pitch_audio = [], [], []
    prev_end = 0.0
    for u in session["utterances"]:
        x = audio[int(u["start"] * SR) : int(u["end"] * SR)]
        row = utterance_features(x, u["text"])
        row["text"] = u["text"]
        utts.append(row)
        before = ellie[ellie <= u["start"] + 0.3]
        # A response latency only when Ellie spoke last (not a continuation line).
        if before.size and before[-1] > prev_end:
            latencies.append(max(u["start"] - before[-1], 0.0))
        prev_end = u["end"]
        if sum(len(a) for a in pitch_audio) < 30 * SR:
            pitch_audio.append(x)
    part = {
        "speech_rate": np.mean([r["speech_rate"] for r in utts]),
        "rms_db": np.mean([r["rms_db"] for r in utts]),
        "pause_ratio": np.mean([r["pause_ratio"] for r in utts]),
        "pitch_iqr": pitch_iqr(np.concatenate(pitch_audio)) if pitch_audio else np.nan,
        "latency": float(np.median(latencies)) if latencies else np.nan,
        "text": " ".join(r["text"] for r in utts),
    }
    return part, utts


# ----------------------------------------------------------------------------- models
def _speech_matrix(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    m = np.array([[r[n] for n in names] for r in rows], dtype=float)
    col_median = np.nanmedian(m, axis=0)  # sessions without Ellie lines have no latency
    idx = np.where(np.isnan(m))
    m[idx] = np.take(col_median, idx[1])
    return m


def _fit_predict(kind: str, texts, speech, y, train, test) -> np.ndarray:
    parts_train, parts_test = [], []
    if kind in ("text", "both"):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        parts_train.append(vec.fit_transform([texts[i] for i in train]))
        parts_test.append(vec.transform([texts[i] for i in test]))
    if kind in ("speech", "both"):
        sc = StandardScaler().fit(speech[train])
        # TF-IDF rows have unit norm; unscaled z-scores would make the shared L2 penalty
        # favour the speech block, and the concatenation would do worse than text alone.
        w = SPEECH_BLOCK_WEIGHT if kind == "both" else 1.0
        parts_train.append(csr_matrix(w * sc.transform(speech[train])))
        parts_test.append(csr_matrix(w * sc.transform(speech[test])))
    clf = LogisticRegression(C=3.0, class_weight="balanced", max_iter=2000)
    clf.fit(hstack(parts_train).tocsr(), y[train])
    return clf.predict_proba(hstack(parts_test).tocsr())[:, 1]


def cross_validate(texts, speech, y, groups=None, repeats: int = 10) -> dict[str, dict]:
    """Out-of-fold probabilities per repeat -> AUC and balanced accuracy, mean and sd."""
    scores: dict[str, dict[str, list[float]]] = {}
    for rep in range(repeats):
        if groups is None:
            splits = StratifiedKFold(5, shuffle=True, random_state=rep).split(texts, y)
        else:
            splits = StratifiedGroupKFold(5, shuffle=True, random_state=rep).split(texts, y, groups)
        oof = {k: np.zeros(len(y)) for k in ("text", "speech", "both")}
        for train, test in splits:
            for kind in oof:
                oof[kind][test] = _fit_predict(kind, texts, speech, y, train, test)
        oof["late fusion (mean prob)"] = (oof["text"] + oof["speech"]) / 2
        for kind, p in oof.items():
            s = scores.setdefault(kind, {"auc": [], "bacc": []})
            s["auc"].append(roc_auc_score(y, p))
            s["bacc"].append(balanced_accuracy_score(y, p >= 0.5))
    return {
        k: {m: (float(np.mean(v)), float(np.std(v))) for m, v in d.items()}
        for k, d in scores.items()
    }


def univariate(speech: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """AUC of each speech feature alone (sign-free: max(auc, 1-auc))."""
    out = {}
    for j, n in enumerate(names):
        a = roc_auc_score(y, speech[:, j])
        out[n] = float(max(a, 1 - a))
    return out


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("data/synth_calib"))
    ap.add_argument("--participants", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text-signal", type=float, default=1.0)
    ap.add_argument("--speech-signal", type=float, default=1.0)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--force", action="store_true", help="regenerate with other settings")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    config = SynthConfig(
        participants=args.participants,
        seed=args.seed,
        text_signal=args.text_signal,
        speech_signal=args.speech_signal,
        minutes=args.minutes,
    )
    t0 = time.perf_counter()
    summary = generate_corpus(args.out, config, jobs=args.jobs, progress=True, force=args.force)
    t_gen = time.perf_counter() - t0
    truth = load_truth(args.out)
    t0 = time.perf_counter()
    parts, utt_rows, utt_groups, utt_y = [], [], [], []
    for s in truth["sessions"]:
        part, utts = session_features(args.out, s)
        parts.append(part)
        utt_rows += utts
        utt_groups += [s["id"]] * len(utts)
        utt_y += [s["label"]] * len(utts)
    t_feat = time.perf_counter() - t0
    y = np.array([s["label"] for s in truth["sessions"]])
    speech = _speech_matrix(parts, SPEECH_FEATURES)
    res_part = cross_validate([p["text"] for p in parts], speech, y, repeats=args.repeats)
    utt_names = ("speech_rate", "rms_db", "pause_ratio")
    res_utt = cross_validate(
        [r["text"] for r in utt_rows],
        _speech_matrix(utt_rows, utt_names),
        np.array(utt_y),
        groups=np.array(utt_groups),
        repeats=max(1, args.repeats // 5),
    )
    uni = univariate(speech, y, SPEECH_FEATURES)

    print(
        f"\ncorpus: {summary.sessions} participants ({int(y.sum())} depressed), "
        f"{len(utt_rows)} utterances, {summary.audio_seconds / 3600:.2f} h audio; "
        f"generation {t_gen:.0f} s ({summary.generated} generated), features {t_feat:.0f} s"
    )
    print(f"\nparticipant level, 5-fold CV x {args.repeats} repeats (mean ± sd over repeats)\n")
    print("| features | ROC-AUC | balanced accuracy |\n|---|---|---|")
    for k, v in res_part.items():
        print(
            f"| {k} | {v['auc'][0]:.3f} ± {v['auc'][1]:.3f} | {v['bacc'][0]:.3f} ± {v['bacc'][1]:.3f} |"
        )
    print("\nutterance level (participant-grouped 5-fold CV; speech = rate, RMS, pause ratio)\n")
    print("| features | ROC-AUC | balanced accuracy |\n|---|---|---|")
    for k, v in res_utt.items():
        print(
            f"| {k} | {v['auc'][0]:.3f} ± {v['auc'][1]:.3f} | {v['bacc'][0]:.3f} ± {v['bacc'][1]:.3f} |"
        )
    print(
        "\nsingle speech features, participant-level AUC: "
        + ", ".join(f"{k} {v:.2f}" for k, v in uni.items())
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"config": config.to_dict(), "participant": res_part, "utterance": res_utt,
                 "univariate": uni, "generation_seconds": t_gen},
                indent=1,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
