"""Hostile transcripts through `predict --transcript` and `prepare --corpus daic-woz`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples
from .harness import OUT_DIR, fresh_dir, run_checked
from .strategies import transcripts


@settings(max_examples=examples(60))
@given(data=transcripts(), name=st.sampled_from(["t.csv", "t.tsv", "[bold]t.csv", "t"]),
       with_out=st.booleans())
def test_predict_transcript(data, name, with_out, text_model, scratch):
    ex = fresh_dir(scratch)
    path = ex / name
    path.write_bytes(data)
    out = ex / OUT_DIR / "r.json" if with_out else None
    run_checked(["predict", "--model", text_model, "--transcript", path], ex, text_model,
                [path], out=out)


@settings(max_examples=examples(25))
@given(data=transcripts(), zipped=st.booleans())
def test_prepare_daic_transcript(data, zipped, scratch):
    from corpora.fixtures import DaicSession, build_daic

    ex = fresh_dir(scratch)
    layout = "zip" if zipped else "folder"
    root = build_daic(ex / "daic", [DaicSession("300", "train", transcript=data, layout=layout),
                                    DaicSession("301", "dev", score=12, seconds=4.0),
                                    DaicSession("302", "test", seconds=4.0)])
    out = ex / OUT_DIR / "prep"
    res = run_checked(["prepare", "--corpus", "daic-woz", "--root", root], ex, None,
                      [root, root / "300_P", root / "300_P.zip"], out=out)
    if res.code == 0:
        assert (out / "sessions.csv").is_file()
