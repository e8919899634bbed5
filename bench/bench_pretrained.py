"""Frozen pretrained encoders vs plain transformers calls, same process, one thread.

    .venv/bin/python bench/bench_pretrained.py [--seconds 60] [--sentences 2000] [--repeats 5]

Builds two random models in a temporary folder (nothing is downloaded; timing does not
depend on the weights' values):

* a WavLM with the standard conv front end (7 layers, 256 channels), hidden size 256, 4
  transformer layers, layer-normalised conv features (the "large" models' layout);
* a 4-layer BERT, hidden size 256, with a word-piece tokenizer over a small vocabulary.

Speech: `SSLSpeechRepresentation.frames` (middle layer, default windows) over
--seconds of noise-plus-tone audio, against the plain route: `Wav2Vec2FeatureExtractor` +
one `AutoModel` forward pass over the whole signal with `output_hidden_states=True`. A
second row runs ours on the last layer (all 4 layers, as the plain pass), so the gain from
stopping early and the cost/gain of windowing show separately. Text: `HFTextEncoder.encode`
on --sentences interview-like sentences (1-60 words) against AutoTokenizer + AutoModel in
the given order, batches of 64, mean pooling + L2 normalisation.

Prints a markdown table (median of --repeats after a warm-up) and writes it to
bench/results_pretrained.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from depscreen.features.hf_text import HFTextEncoder  # noqa: E402
from depscreen.features.ssl_speech import SSLSpeechRepresentation  # noqa: E402

SR = 16000
OUT = Path(__file__).resolve().parent / "results_pretrained.md"
WORDS = ("i you we feel felt tired sleep work home family friends sad happy really not very "
         "much little time day night week good bad hard easy okay yes no maybe think know "
         "always never sometimes talk talked doctor better worse since when because and the "
         "a of to in it that was is").split()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up: allocator, kernels, lazy loading
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def build_wavlm(folder: Path) -> Path:
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    torch.manual_seed(0)
    config = WavLMConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=1024, conv_dim=(256,) * 7,
                         feat_extract_norm="layer", do_stable_layer_norm=True)
    WavLMModel(config).eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True,
                             return_attention_mask=True).save_pretrained(folder)
    return folder


def build_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters,
             *("##" + c for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"),
                      model_max_length=512).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=256, num_hidden_layers=4,
                        num_attention_heads=4, intermediate_size=1024)
    BertModel(config).eval().save_pretrained(folder)
    return folder


def plain_speech(folder: Path, layer: int):
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    fe = Wav2Vec2FeatureExtractor.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    def run(y: np.ndarray) -> np.ndarray:
        inputs = fe(y, sampling_rate=SR, return_tensors="pt")
        with torch.inference_mode():
            out = model(**inputs, output_hidden_states=True)
        return out.hidden_states[layer][0].numpy()

    return run


def plain_text(folder: Path, max_length: int = 256):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    def run(texts: list[str]) -> np.ndarray:
        rows = []
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                enc = tok(texts[i:i + 64], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
                h = model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                rows.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        return np.concatenate(rows)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)

    rng = np.random.default_rng(0)
    t = np.arange(int(args.seconds * SR)) / SR
    voiced = np.sin(2 * np.pi * 0.5 * t) > 0
    y = (0.1 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 220 * t) * voiced)
    y = y.astype(np.float32)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 61)))) for _ in
             range(args.sentences)]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wavlm = build_wavlm(Path(tmp) / "wavlm")
        bert = build_bert(Path(tmp) / "bert")

        for layer, label in ((None, "middle layer (2 of 4)"), (-1, "last layer (4 of 4)")):
            rep = SSLSpeechRepresentation(wavlm, layer=layer)
            starts, chunks = rep._chunks(y)
            windows = (f"{len(chunks)} windows of {chunks[0].size / SR:.1f} s overlapping by "
                       f"≥ {rep._overlap / SR:.1f} s")
            t_ours, ours = median_seconds(lambda rep=rep: rep.frames(y), args.repeats)
            plain = plain_speech(wavlm, rep.layer)
            t_ref, ref = median_seconds(lambda plain=plain: plain(y), args.repeats)
            assert ours.shape == ref.shape, (ours.shape, ref.shape)
            first = slice(0, int(9 * SR / 320))  # first window, >= 1 s from its end
            rows.append((
                f"speech, {args.seconds:g} s of audio, WavLM h256×4, {label}",
                f"{args.seconds / t_ours:.1f}× real time ({t_ours:.2f} s)",
                f"{args.seconds / t_ref:.1f}× real time ({t_ref:.2f} s)",
                f"{t_ref / t_ours:.2f}×",
                f"{ours.shape[0]} frames both; max \\|diff\\| {np.abs(ours - ref).max():.1e}, "
                f"first window {np.abs(ours[first] - ref[first]).max():.1e}",
            ))

        enc = HFTextEncoder(bert)
        t_ours, ours = median_seconds(lambda: enc.encode(texts), args.repeats)
        plain = plain_text(bert)
        t_ref, ref = median_seconds(lambda: plain(texts), args.repeats)
        rows.append((
            f"text, {len(texts)} sentences of 1-60 words, BERT h256×4",
            f"{len(texts) / t_ours:,.0f} sentences/s ({t_ours:.2f} s)",
            f"{len(texts) / t_ref:,.0f} sentences/s ({t_ref:.2f} s)",
            f"{t_ref / t_ours:.2f}×",
            f"max \\|diff\\| {np.abs(ours - ref).max():.1e}",
        ))

    head = (f"Measured {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} by "
            f"`.venv/bin/python bench/bench_pretrained.py` on {cpu_model()}, "
            f"{os.cpu_count()} CPU cores, torch {torch.__version__} on one thread; median of "
            f"{args.repeats} runs after a warm-up, both routes in the same process. "
            "Random weights (timing does not depend on their values).\n")
    table = ["| measurement | depscreen | plain transformers | speed-up | check |",
             "|---|---|---|---|---|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    notes = (f"\nSpeech: ours (defaults: windows of at most 20 s, overlap 2 s raised to the "
             f"positional convolution's reach) runs {windows}, through only the transformer "
             "blocks the chosen layer needs (plus one); the plain route is one pass over the "
             "whole signal (self-attention over all its frames) through every block. The "
             "frames differ because self-attention sees a window instead of the whole signal. "
             "Text: ours sorts "
             "sentences by length before batching (less padding); same embeddings.\n")
    text = head + "\n" + "\n".join(table) + "\n" + notes
    print(text)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
