"""The classical reference baselines of each modality, with scikit-learn, on the same folds.

* speech ``mfcc-stats-lr``: librosa MFCC (20 coefficients, 16 kHz mono), mean and std over
  time (40 numbers per clip), StandardScaler, class-balanced LogisticRegression;
* text ``tfidf-lr-sklearn``: TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2),
  min_df=2), class-balanced LogisticRegression;
* paired: both, plus late fusion (mean of the two probabilities) and early fusion (the two
  feature sets side by side, one LogisticRegression).

Each is trained on train, its C chosen from `C_GRID` by dev UA (ties: the smaller C), and
scored on test at the 0.5 threshold (the class-balanced fit centres it). One session is one
sample here, so these are participant-level numbers like depscreen's.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .corpora import Item, split_of

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
MFCC_SR = 16_000
N_MFCC = 20

SPEECH_REF = "mfcc-stats-lr"
TEXT_REF = "tfidf-lr-sklearn"
LATE_REF = "mfcc+tfidf-late-fusion"
EARLY_REF = "mfcc+tfidf-early-fusion"
REFERENCES = {  # task -> reference rows it gets
    "speech": (SPEECH_REF,),
    "text": (TEXT_REF,),
    "paired": (SPEECH_REF, TEXT_REF, LATE_REF, EARLY_REF),
    "paired-short": (SPEECH_REF, TEXT_REF, LATE_REF, EARLY_REF),
}
REFERENCE_MODALITY = {SPEECH_REF: "speech", TEXT_REF: "text", LATE_REF: "fusion",
                      EARLY_REF: "fusion"}


def scores(y_true, y_pred) -> dict[str, float]:
    """UA (balanced accuracy) and macro F1, as fractions (as depscreen's metrics.json)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    ua = (float(np.mean(y_true == y_pred)) if len(np.unique(y_true)) < 2
          else float(balanced_accuracy_score(y_true, y_pred)))
    return {"ua": ua, "f1_macro": float(f1_score(y_true, y_pred, average="macro",
                                                  labels=[0, 1], zero_division=0))}


# ------------------------------------------------------------------------------ features
def _mfcc_stats(path: str) -> np.ndarray:
    import librosa

    y, _ = librosa.load(path, sr=MFCC_SR, mono=True)
    m = librosa.feature.mfcc(y=y, sr=MFCC_SR, n_mfcc=N_MFCC)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float64)


def _file_key(path: str) -> str:
    st = os.stat(path)
    return f"{path}\0{st.st_size}\0{st.st_mtime_ns}"


def mfcc_features(paths: list[str], cache: Path) -> np.ndarray:
    """(n, 40) MFCC mean+std per clip; cached in `cache` (an .npz keyed by path, size, mtime)."""
    cache = Path(cache)
    keys = [_file_key(p) for p in paths]
    stored: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            stored = dict(zip(json.loads(str(z["keys"])), z["values"], strict=True))
    missing = [i for i, k in enumerate(keys) if k not in stored]
    for i in missing:
        stored[keys[i]] = _mfcc_stats(paths[i])
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(stored)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, keys=json.dumps(names), values=np.stack([stored[k] for k in names]))
        tmp.replace(cache)
    return np.stack([stored[k] for k in keys])


def cache_name(items: list[Item]) -> str:
    """A short key of a list of clips (so different corpora do not share a cache file)."""
    return hashlib.sha256("\n".join(sorted({it.audio or "" for it in items})).encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------ models
def _lr(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000)


def _select(xtr, ytr, xdev, ydev) -> tuple[object, float, float]:
    """The LR fitted on train with the C of best dev UA: (model, C, dev UA)."""
    best = None
    for c in C_GRID:
        model = _lr(c).fit(xtr, ytr)
        ua = scores(ydev, model.predict(xdev))["ua"]
        if best is None or ua > best[2] + 1e-12:
            best = (model, c, ua)
    assert best is not None
    return best


def _speech_sets(feats, idx):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(feats[idx["train"]])
    return {s: scaler.transform(feats[i]) for s, i in idx.items()}


def _text_sets(texts, idx):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    vec.fit([texts[i] for i in idx["train"]])
    return {s: vec.transform([texts[j] for j in i]) for s, i in idx.items()}


def run_fold(task: str, items: list[Item], folds: dict[str, int], fold: int, k: int,
             names: tuple[str, ...], mfcc: Callable[[], np.ndarray] | None = None,
             ) -> dict[str, dict]:
    """The reference rows `names` of `task` on fold `fold`: name -> {ua, f1_macro, C, dev_ua}.

    `mfcc()` gives the clips' MFCC statistics in `items` order (computed once, by the caller).
    """
    from scipy import sparse

    split = np.array([split_of(folds[it.group], fold, k) for it in items])
    idx = {s: np.flatnonzero(split == s) for s in ("train", "dev", "test")}
    y = np.array([it.label for it in items])
    ys = {s: y[i] for s, i in idx.items()}
    out: dict[str, dict] = {}

    def record(name, model_or_probs, c, dev_ua, x_test=None):
        if x_test is not None:
            pred = model_or_probs.predict(x_test)
        else:
            pred = (model_or_probs >= 0.5).astype(int)
        out[name] = {**scores(ys["test"], pred), "C": c, "dev_ua": dev_ua}

    need_speech = {SPEECH_REF, LATE_REF, EARLY_REF} & set(names)
    need_text = {TEXT_REF, LATE_REF, EARLY_REF} & set(names)
    xs = xt = None
    ms = mt = None
    if need_speech:
        assert mfcc is not None
        xs = _speech_sets(mfcc(), idx)
        ms, cs, dev_s = _select(xs["train"], ys["train"], xs["dev"], ys["dev"])
        if SPEECH_REF in names:
            record(SPEECH_REF, ms, cs, dev_s, xs["test"])
    if need_text:
        xt = _text_sets([it.text or "" for it in items], idx)
        mt, ct, dev_t = _select(xt["train"], ys["train"], xt["dev"], ys["dev"])
        if TEXT_REF in names:
            record(TEXT_REF, mt, ct, dev_t, xt["test"])
    if LATE_REF in names:
        dev_p = (ms.predict_proba(xs["dev"])[:, 1] + mt.predict_proba(xt["dev"])[:, 1]) / 2
        test_p = (ms.predict_proba(xs["test"])[:, 1] + mt.predict_proba(xt["test"])[:, 1]) / 2
        record(LATE_REF, test_p, [cs, ct], scores(ys["dev"], dev_p >= 0.5)["ua"])
    if EARLY_REF in names:
        xe = {s: sparse.hstack([sparse.csr_matrix(xs[s]), xt[s]]).tocsr() for s in idx}
        me, ce, dev_e = _select(xe["train"], ys["train"], xe["dev"], ys["dev"])
        record(EARLY_REF, me, ce, dev_e, xe["test"])
    return out
