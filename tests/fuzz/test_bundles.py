"""Hostile bundles through `predict --model F.dsb`: byte damage, and members changed, added
or removed, re-signed so they get past the checksums to the validators behind them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples
from .harness import OUT_DIR, fresh_dir, run_checked
from .strategies import bundle_bytes


@settings(max_examples=examples(80))
@given(data=st.data(), base=st.sampled_from(["tfidf-lr", "lstm-cnn-text"]),
       with_out=st.booleans())
def test_predict_bundle(data, base, with_out, bundles, scratch):
    blob = data.draw(bundle_bytes(bundles[base].read_bytes()))
    ex = fresh_dir(scratch)
    model = ex / "m.dsb"
    model.write_bytes(blob)
    out = ex / OUT_DIR / "r.json" if with_out else None
    run_checked(["predict", "--model", model, "--text", "i feel low and tired"], ex, None,
                [model], out=out)
