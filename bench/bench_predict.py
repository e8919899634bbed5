"""How long `predict_interview` takes for a 16-minute interview on one CPU core.

    .venv/bin/python bench/bench_predict.py [--minutes 16] [--repeats 7] [--model RUN_OR_BUNDLE]

Generates (once, cached under --work) a synthetic interview of --minutes with eSpeak NG in
DAIC-WOZ's layout (WAV + transcript), loads a model — by default a randomly initialised
`decision-fusion` of the default configuration (lstm-cnn-text + lstm-cnn-speech, the
paper's branches; timing does not depend on the weights' values) — and times
`predict_interview` with audio + transcript, audio only, and text only, after one warm-up
call; a second transcript tiles the whole recording with participant lines (worst case:
~16 min of speech instead of the ~7 min the synthetic interview has). torch runs on one
thread. Prints the median and the range of --repeats runs and the
process's peak RSS. The target (issue: inference path) is < 3 s with audio + transcript.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path


def synth_interview(work: Path, minutes: float) -> tuple[Path, Path]:
    from depscreen.corpora.synthetic import SynthConfig, generate_corpus
    from depscreen.errors import ConfigError

    root = work / f"synth-{minutes:g}min"
    config = SynthConfig(ids=(300,), minutes=minutes, seed=0, quirks=False)
    try:
        generate_corpus(root, config, jobs=1, progress=False)
    except ConfigError as e:  # made by another generator version: ours to replace
        if "other settings" not in str(e):
            raise
        generate_corpus(root, config, jobs=1, progress=False, force=True)
    return root / "300_P" / "300_AUDIO.wav", root / "300_P" / "300_TRANSCRIPT.csv"


def dense_transcript(transcript: Path, audio: Path) -> Path:
    """Worst case: participant lines of ~6 s tiling the whole recording (as if the participant
    spoke for all of it; DAIC-WOZ averages ~11 of 16 minutes)."""
    import soundfile as sf

    seconds = sf.info(str(audio)).duration
    words = "i have not been sleeping well and i feel tired most of the day"
    lines = ["start_time\tstop_time\tspeaker\tvalue"]
    t = 0.0
    while t + 6.0 <= seconds:
        lines.append(f"{t:.3f}\t{t + 6.0:.3f}\tParticipant\t{words}")
        t += 6.5
    out = transcript.with_name("dense_TRANSCRIPT.csv")
    out.write_text("\n".join(lines) + "\n")
    return out


def predict_cases(audio: Path, transcript: Path) -> dict[str, dict]:
    """The timed `predict_interview` inputs: with the transcript, with a transcript that tiles
    the recording (worst case), audio only, transcript only."""
    dense = dense_transcript(transcript, audio)
    return {
        "audio+transcript": dict(audio=str(audio), transcript=transcript),
        "audio+dense transcript": dict(audio=str(audio), transcript=dense),
        "audio only": dict(audio=str(audio)),
        "transcript only": dict(transcript=transcript),
    }


def random_model(vocab_words: int = 2000):
    """A LoadedModel around a random-initialised default decision-fusion."""
    import torch

    from depscreen.features.audio import LogMelConfig
    from depscreen.features.text import TextConfig, Vocabulary
    from depscreen.inference.bundle import LoadedModel
    from depscreen.models import create_model

    torch.manual_seed(0)
    vocab = Vocabulary([f"w{i}" for i in range(vocab_words)])
    audio_cfg = LogMelConfig()
    model = create_model("decision-fusion", text={"vocab_size": len(vocab)},
                         speech={"n_mels": audio_cfg.n_mels}).eval()
    return LoadedModel(
        model=model, name="decision-fusion", model_config=model.config_dict(),
        version="random", vocab=vocab, audio_cfg=audio_cfg, text_cfg=TextConfig(),
        text_input="tokens", data_modalities=frozenset({"text", "speech"}),
        thresholds={"utterance": 0.5, "participant": 0.5},
        calibration={"method": "decision-fusion"}, source="random", path=Path("random"),
    )


def time_calls(fn, repeats: int) -> list[float]:
    fn()  # warm-up: first-call costs (mel filterbank, torch kernels) are part of loading
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=16.0)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", type=Path, default=None, help="run folder or .dsb bundle")
    ap.add_argument("--work", type=Path, default=Path("data/bench"))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from depscreen.inference.bundle import load_model
    from depscreen.inference.predict import predict_interview

    audio, transcript = synth_interview(args.work, args.minutes)
    t0 = time.perf_counter()
    loaded = load_model(args.model) if args.model else random_model()
    load_s = time.perf_counter() - t0

    cases = predict_cases(audio, transcript)
    results = {"minutes": args.minutes, "model": loaded.name, "load_s": round(load_s, 3),
               "torch_threads": torch.get_num_threads(), "cases": {}}
    first = predict_interview(loaded, **cases["audio+transcript"])
    results["duration_s"] = first["inputs"]["duration_s"]
    results["samples"] = first["inputs"]["samples"]
    for name, kwargs in cases.items():
        times = time_calls(lambda kwargs=kwargs: predict_interview(loaded, **kwargs),
                           args.repeats)
        results["cases"][name] = {"median_s": round(statistics.median(times), 3),
                                  "min_s": round(min(times), 3), "max_s": round(max(times), 3)}
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results["peak_rss_mib"] = round(rss / (1024**2 if sys.platform == "darwin" else 1024), 1)

    print(f"{results['duration_s'] / 60:.1f}-min interview, {results['samples']} samples, "
          f"model {loaded.name}, torch threads {results['torch_threads']}, "
          f"load {results['load_s']:.2f} s")
    for name, r in results["cases"].items():
        print(f"  {name:24s} median {r['median_s']:.3f} s  (min {r['min_s']:.3f}, "
              f"max {r['max_s']:.3f}, {args.repeats} runs)")
    print(f"  peak RSS {results['peak_rss_mib']:.0f} MiB; target < 3 s for audio+transcript: "
          + ("met" if results["cases"]["audio+transcript"]["median_s"] < 3.0 else "NOT met"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
