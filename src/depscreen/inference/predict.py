"""Scoring one new interview with a trained model (`predict_interview`), in three steps:

1. gather the inputs (`inputs.gather_interview`);
2. build the samples with training's own builder (`features/dataset.session_samples`; the
   frames are computed in memory by the cache's `session_frames` instead of read from the
   cache: windows of at most `max_seconds`, shorter than `min_seconds` dropped, normalised
   with the statistics of all the session's windows; text as token ids with the training
   vocabulary or sentence embeddings) and score them;
3. write the JSON-ready result (`interview_result`).

The participant-level probability is the mean of the sample probabilities (as in evaluation);
the decision uses the participant-level threshold chosen on dev. A model with a PHQ-8 score
head adds the estimated score with its interval and severity band (inference/regression.py);
one without a binary head has no probability and decides on the estimate at the cutoff 10. Privacy: nothing here logs
transcript text unless `verbose=True`, and the result holds no text unless `include_text`.
Many interviews: `inference/batch.py`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depscreen import CAVEAT, __version__
from depscreen.audio import (
    DEFAULT_MAX_BYTES,
)
from depscreen.corpora.records import MODALITIES, PHQ8_ITEMS, Utterance
from depscreen.errors import (
    FeatureError,
)
from depscreen.features.audio import utterance_windows
from depscreen.features.cache import SessionFeatures, session_frames
from depscreen.features.dataset import UtteranceDataset, collate, session_samples
from depscreen.inference.asr import Recognizer
from depscreen.inference.bundle import LoadedModel, apply_calibration
from depscreen.inference.inputs import Context, Interview, gather_interview
from depscreen.inference.regression import aggregate, score_decision, score_summary

log = logging.getLogger("depscreen.inference")

RESULT_SCHEMA = "depscreen-prediction/1"
BATCH_SIZE = 32

# ----------------------------------------------------------------------------- samples


def interview_samples(loaded: LoadedModel, interview: Interview) -> UtteranceDataset:
    """The interview's samples, built by the same `session_samples` as a corpus split's:
    only the frames' source differs (computed in memory by `session_frames`, the function
    the cache extracts with, instead of read from the cache)."""
    cfg, wave, utts = loaded.audio_cfg, interview.wave, interview.utterances
    sid = interview.session_id
    handle = None
    if wave is not None and "speech" in interview.use:
        frames, spans, _ = session_frames(wave, [(u.start, u.end) for u in utts], cfg,
                                          loaded.choice.speech_rep(cfg))
        handle = SessionFeatures.computed(sid, frames, spans)
    vocab = loaded.vocab if loaded.text_input == "tokens" else None
    samples = session_samples(
        sid, -1, utts, windowed=wave is not None,
        use_text="text" in interview.use, vocab=vocab, text_cfg=loaded.text_cfg,
        audio_cfg=cfg, spans=handle.by_key if handle is not None else {})
    embeddings, text_dim = None, 1
    if loaded.text_input == "embedding" and any(s.has_text for s in samples):
        encoder = loaded.choice.text_encoder(batch_size=loaded.text_cfg.encoder_batch_size)
        embeddings = {sid: encoder.encode([u.text for u in utts])}
        text_dim = embeddings[sid].shape[1]
    n_mels = handle.frames().shape[1] if handle is not None else cfg.n_mels
    # One interview is one session and its own speaker: both norms use its statistics.
    norm = "none" if loaded.choice.norm == "none" else "session"
    return UtteranceDataset("predict", samples, {sid: handle} if handle else {}, embeddings,
                            n_mels, frozenset(interview.use), loaded.text_input, vocab,
                            norm=norm, text_dim=text_dim)


def _windows_past_end(utts: Sequence[Utterance], wave: np.ndarray, cfg) -> int:
    """How many utterance windows run past the end of the recording (their speech is lost)."""
    return sum(1 for u in utts for first, last in utterance_windows(u.start, u.end, cfg)
               if min(last, wave.size) - first < cfg.min_samples)


def _score(loaded: LoadedModel, ds: UtteranceDataset, present: set[str]
           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fused and per-modality probabilities (calibrated) of every sample; NaN where absent."""
    import torch

    model = loaded.model
    n = len(ds)
    p = np.full(n, np.nan)
    per = {m: np.full(n, np.nan) for m in MODALITIES}
    if not loaded.has_binary_head:  # a score model only: no probabilities
        return p, per
    order = np.argsort(ds.lengths, kind="stable")
    drop = {"speech": ("mel", "mel_lengths"), "text": ("tokens", "token_lengths", "sentence_emb")}
    with torch.inference_mode():
        for i in range(0, n, BATCH_SIZE):
            idx = order[i: i + BATCH_SIZE]
            batch = collate([ds[j] for j in idx])
            if loaded.decision_level:
                for m in MODALITIES:
                    if m not in present:  # absent everywhere: the sub-model need not run
                        for key in drop[m]:
                            batch.pop(key, None)
                # The fused and the per-modality calibrated probabilities in one pass.
                probas = model.modality_probas(batch)
                p[idx] = probas["fused"].double().numpy()
                per["text"][idx] = probas["text"].double().numpy()
                per["speech"][idx] = probas["speech"].double().numpy()
                continue
            p[idx] = model.predict_proba(batch).double().numpy()
            mods = sorted(model.modalities)
            if len(mods) == 1:
                per[mods[0]][idx] = p[idx]
                continue
            # Feature-level fusion: each modality's probability = the model given only it.
            for m in MODALITIES:
                other = "speech" if m == "text" else "text"
                only = dict(batch)
                only[f"has_{other}"] = torch.zeros_like(batch[f"has_{other}"])
                pm = model.predict_proba(only).double().numpy()
                has_m = batch[f"has_{m}"].numpy()
                per[m][idx] = np.where(has_m, pm, np.nan)
    if not np.all(np.isfinite(p)):
        raise FeatureError("the model produced non-finite probabilities for this interview "
                           "(non-finite values reached the features or the weights)")
    p = apply_calibration(loaded.calibration, p)
    per = {m: apply_calibration(loaded.calibration, v) for m, v in per.items()}
    return np.asarray(p, dtype=np.float64), per


def _score_estimates(loaded: LoadedModel, ds: UtteranceDataset
                     ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(PHQ-8 estimate of every sample, (n, 8) item estimates of an items model) of a model
    with a score head; (None, None) without one."""
    import torch

    model = loaded.model
    if not loaded.has_score_head:
        return None, None
    n = len(ds)
    scores = np.zeros(n, dtype=np.float64)
    items = np.zeros((n, 8), dtype=np.float64) if model.task == "items" else None
    order = np.argsort(ds.lengths, kind="stable")
    with torch.inference_mode():
        for i in range(0, n, BATCH_SIZE):
            idx = order[i: i + BATCH_SIZE]
            batch = collate([ds[j] for j in idx])
            scores[idx] = model.predict_score(batch).double().numpy()
            if items is not None:
                items[idx] = model.predict_items(batch).double().numpy()
    if not np.all(np.isfinite(scores)):
        raise FeatureError("the model produced non-finite score estimates for this interview "
                           "(non-finite values reached the features or the weights)")
    return scores, items


def _score_part(loaded: LoadedModel, scores: np.ndarray | None, items: np.ndarray | None
                ) -> dict:
    """The result's "score" (and "items") of a model with a score head; {} without one."""
    if scores is None:
        return {}
    how = loaded.regression["aggregation"]
    out = {"score": score_summary(loaded.regression, aggregate(scores, how))}
    if items is not None:
        out["items"] = {name: round(aggregate(items[:, k], how), 2)
                        for k, name in enumerate(PHQ8_ITEMS)}
    return out


def _mean(values: np.ndarray) -> float | None:
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else None


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _present(loaded: LoadedModel, interview: Interview, ds: UtteranceDataset) -> set[str]:
    """The modalities some sample carries; FeatureError when the model cannot score them."""
    present = {m for m in interview.use if any(
        (s.has_text if m == "text" else s.span is not None) for s in ds.samples)}
    source = interview.transcript or interview.audio  # the file to name (None: --text)
    if len(ds) == 0 or (not loaded.decision_level and not set(loaded.modalities) <= present):
        lacking = " and ".join(sorted(set(loaded.modalities) - present)) or "usable"
        raise FeatureError(
            f"nothing to score: no utterance has {lacking} input long enough for the model "
            f"(utterances shorter than {loaded.audio_cfg.min_seconds:g} s of audio are "
            "skipped, and text needs words)", source)
    if not present:
        raise FeatureError("nothing to score: no utterance has text or speech input", source)
    return present


def _timeline(interview: Interview, ds: UtteranceDataset, probs: np.ndarray,
              per: dict[str, np.ndarray], include_text: bool, scores: np.ndarray | None = None,
              how: str = "mean") -> list[dict]:
    """One entry per scored utterance: its times, probabilities and window count (and its
    score estimate, its windows' aggregated `how`, for a model with a score head)."""
    by_utt: dict[int, list[int]] = {}
    for i, s in enumerate(ds.samples):
        by_utt.setdefault(s.utt_index, []).append(i)
    timeline = []
    for ui, idx in by_utt.items():
        u = interview.utterances[ui]
        entry = {
            "start": _r(u.start, 3), "end": _r(u.end, 3),
            "probability": _r(float(probs[idx].mean())),
            "text": _r(_mean(per["text"][idx])), "speech": _r(_mean(per["speech"][idx])),
            "windows": len(idx),
        }
        if scores is not None:
            entry["score"] = round(aggregate(scores[idx], how), 2)
        if include_text:
            entry["words"] = u.text
        timeline.append(entry)
    return timeline


def _decision(loaded: LoadedModel, probability: float, score_part: dict) -> dict:
    """The participant's decision: the probability at the dev threshold, or (a model without
    a binary head) the estimated score at the PHQ-8 cutoff."""
    if not loaded.has_binary_head:
        return score_decision(score_part["score"], loaded.thresholds["score"])
    threshold = loaded.thresholds["participant"]
    return {
        "depressed": bool(probability >= threshold),
        "label": "screen positive" if probability >= threshold else "screen negative",
        "threshold": _r(threshold),
        "threshold_level": "participant",
        "threshold_chosen_on": "dev",
    }


def interview_result(loaded: LoadedModel, interview: Interview, ds: UtteranceDataset,
                     probs: np.ndarray, per: dict[str, np.ndarray], present: set[str],
                     include_text: bool, ctx: Context, scores: np.ndarray | None = None,
                     items: np.ndarray | None = None) -> dict:
    """Step 3 of `predict_interview`: the JSON-ready result (see there). `scores`/`items`:
    the sample estimates of a model with a score head (`_score_estimates`)."""
    probability = float(probs.mean())
    score_part = _score_part(loaded, scores, items)
    how = loaded.regression["aggregation"] if scores is not None else "mean"
    timeline = _timeline(interview, ds, probs, per, include_text, scores, how)
    utts = interview.utterances
    log.debug("%s: %d utterances, %d samples scored", interview.session_id, len(utts), len(ds))
    if ctx.verbose:  # participant content: only with --verbose
        scored = dict.fromkeys(s.utt_index for s in ds.samples)
        for entry, u in zip(timeline, (utts[ui] for ui in scored), strict=True):
            p = entry["probability"]
            shown = f"p={p:.3f}" if p is not None else f"score={entry.get('score')}"
            log.debug("  %.2f-%.2f %s %s", u.start, u.end, shown, u.text)
    duration = interview.duration
    return {
        "schema": RESULT_SCHEMA,
        "depscreen_version": __version__,
        "session_id": interview.session_id,
        "probability": _r(probability),
        "decision": _decision(loaded, probability, score_part),
        **score_part,
        "modalities": {m: _r(_mean(per[m])) for m in MODALITIES},
        "inputs": {
            "audio": interview.audio,
            "transcript": interview.transcript,
            "text_source": interview.text_source,
            "modalities_used": sorted(present),
            "duration_s": _r(duration, 3) if duration is not None else None,
            "utterances": len(utts),
            "utterances_scored": len(timeline),
            "samples": len(ds),
        },
        "timeline": timeline,
        "model": loaded.describe(),
        "warnings": ctx.warnings,
        "caveat": CAVEAT,
    }


def predict_interview(
    loaded: LoadedModel,
    audio: str | Path | None = None,
    transcript: str | Path | None = None,
    text: str | None = None,
    asr: bool = False,
    *,
    session_id: str | None = None,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
    include_text: bool = False,
    verbose: bool = False,
    recognizer: Recognizer | None = None,
) -> dict:
    """Score one interview; returns the JSON-ready result:

    `probability` (calibrated, participant level = mean over samples), `decision` (depressed,
    label, threshold chosen on dev), `modalities` ({"text", "speech"}: each modality's
    probability, None when absent), `inputs` (files, `text_source`: transcript / text / asr /
    None, modalities used, duration, counts), `timeline` (per scored utterance: start, end,
    probability, text, speech, windows; `words` with `include_text`), `model` (name, version,
    calibration), `warnings`, `caveat`.

    A model with a PHQ-8 score head (task regression, multitask, items) adds `score`
    (estimate: the participant aggregate of the sample estimates, the bundle's dev-chosen
    mean or median; interval: its 80% interval from the dev participants' residuals, clipped
    to 0-24, and where it comes from; band: the PHQ-8 severity band; screen_at_10), `items`
    for an items model, and `score` in each timeline entry. Without a binary head (regression,
    items) `probability` and the modality probabilities are None and `decision` is the
    estimate at the PHQ-8 cutoff 10 (`threshold_level` "score").

    `audio`: a WAV (or any libsndfile format; `archive.zip::member.wav` too); `transcript`: a
    DAIC-WOZ-style transcript (tab or comma separated; with a speaker column only the
    participant's lines are scored); `text`: the participant's words inline; `asr`: transcribe
    `audio` offline with PocketSphinx instead. Raises `DepscreenError` subclasses with one-line
    messages for unusable inputs; problems that do not stop scoring are listed under
    "warnings" in the result.

    Three steps: gather the inputs (`gather_interview`), build and score the samples
    (`interview_samples`, the same builder as training's), write the result
    (`interview_result`).
    """
    ctx = Context(warnings=list(loaded.warnings), verbose=verbose)
    interview = gather_interview(loaded, audio, transcript, text, asr, session_id,
                                 max_audio_bytes, recognizer, ctx)
    ds = interview_samples(loaded, interview)
    if interview.wave is not None:
        missing = _windows_past_end(interview.utterances, interview.wave, loaded.audio_cfg)
        if missing:
            ctx.warn(f"{missing} window(s) run past the end of the audio; their speech is "
                     "missing")
    present = _present(loaded, interview, ds)
    probs, per = _score(loaded, ds, present)
    scores, items = _score_estimates(loaded, ds)
    return interview_result(loaded, interview, ds, probs, per, present, include_text, ctx,
                            scores, items)
