"""The screening page and `predict --report`, without a browser: what is (and is not) in the
file, escaping, the batch index, and refusing to overwrite inputs."""

from __future__ import annotations

import json
import re

import pytest

from depscreen.inference.predict import predict_interview
from depscreen.view.index import page_name
from depscreen.view.page import render_page, script_json
from tests.view.conftest import MARKER, make_interview

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:|//|ftp:)""", re.I)


def _result(loaded, iv, **kw) -> dict:
    return predict_interview(loaded, audio=str(iv.audio), transcript=iv.transcript, **kw)


def test_page_shows_the_decision_and_one_element_per_utterance(view_loaded, short_interview):
    res = _result(view_loaded, short_interview)
    page = render_page(res)
    assert res["decision"]["label"] in page
    assert f'{res["probability"]:.2f}' in page
    assert page.count('class="utt"') == len(res["timeline"]) == short_interview.utterances
    assert view_loaded.name in page and str(view_loaded.version) in page
    assert "not a diagnostic device" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not EXTERNAL.search(page)
    embedded = re.search(r'<script type="application/json" id="depscreen-result">(.*?)</script>',
                         page, re.S).group(1)
    assert json.loads(embedded) == json.loads(json.dumps(res))


def test_no_transcript_word_without_include_text(view_loaded, short_interview):
    assert MARKER not in render_page(_result(view_loaded, short_interview))
    with_text = render_page(_result(view_loaded, short_interview, include_text=True))
    assert with_text.count(MARKER) >= short_interview.utterances


def test_hostile_strings_are_escaped(view_loaded, short_interview):
    res = _result(view_loaded, short_interview, include_text=True)
    evil = '</script><script>alert(1)</script><!--"\'&'
    res["session_id"] = evil
    res["warnings"] = [evil]
    res["timeline"][0]["words"] = evil
    page = render_page(res)
    assert "<script>alert(1)" not in page and "</script><script>" not in page.split(
        "<body>")[1].split('<script type="application/json"')[0]
    assert "&lt;/script&gt;" in page
    assert "</" not in script_json(evil) and "<!--" not in script_json(evil)
    with pytest.raises(ValueError):
        render_page(res, audio_uri='data:audio/flac;base64,AA"><script>')


def test_page_names_stay_in_the_folder():
    taken: set[str] = set()
    names = [page_name("index", sid, taken) for sid in
             ("300", "../../etc/passwd", "a/b", "a_b", ".hidden", "")]
    assert names[0] == "index-300.html"
    assert all("/" not in n and "\\" not in n and not n.startswith(".") for n in names)
    assert len(set(names)) == len(names)


def test_cli_report_single(cli, view_bundle, short_interview, tmp_path):
    page = tmp_path / "page.html"
    code, out, err = cli("predict", "--model", view_bundle, "--audio", short_interview.audio,
                         "--transcript", short_interview.transcript, "--report", page,
                         "--embed-audio")
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert 'src="data:audio/flac;base64,' in html and MARKER not in html
    assert json.loads(out)["decision"]["label"] in html


def test_cli_report_refuses_to_overwrite_an_input(cli, view_bundle, short_interview):
    before = short_interview.transcript.read_bytes()
    code, _, err = cli("predict", "--model", view_bundle, "--audio", short_interview.audio,
                       "--transcript", short_interview.transcript,
                       "--report", short_interview.transcript)
    assert code == 2 and "is the --transcript, an input of this command" in err, err
    assert len(err.strip().splitlines()) == 1
    assert short_interview.transcript.read_bytes() == before
    code, _, err = cli("predict", "--model", view_bundle, "--audio", short_interview.audio,
                       "--embed-audio")
    assert code == 1 and "--embed-audio needs --report" in err


def test_cli_report_batch_index(cli, view_bundle, tmp_path):
    folder = tmp_path / "in"
    for i in range(3):
        make_interview(folder, 24.0 + 4 * i, seed=i, name=f"s{i}")
    (folder / "broken.wav").write_bytes(b"not audio at all")
    index = tmp_path / "out" / "index.html"
    code, _, err = cli("predict", folder, "--model", view_bundle, "--report", index,
                       "--include-text")
    assert code == 1  # broken.wav fails; the others are scored
    html = index.read_text(encoding="utf-8")
    assert html.count('<tr class="session">') == 3 and "broken" in html
    pages = sorted(p.name for p in index.parent.glob("index-*.html"))
    assert pages == ["index-s0.html", "index-s1.html", "index-s2.html"]
    probs = [float(x) for x in re.findall(r'</b> ([0-9.]+)</td>', html)]
    assert probs == sorted(probs, reverse=True)
    assert MARKER in (index.parent / "index-s0.html").read_text(encoding="utf-8")
    assert 'href="index.html"' in (index.parent / "index-s1.html").read_text(encoding="utf-8")


def test_regression_page_shows_score_interval_and_band(regression_loaded, short_interview):
    res = predict_interview(regression_loaded, transcript=short_interview.transcript)
    page = render_page(res)
    score = res["score"]
    assert f"{score['estimate']:.1f}" in page and score["band"] in page
    lo, hi = score["interval"]
    assert f"{lo:.1f}–{hi:.1f}" in page
    assert res["decision"]["label"] in page
    assert page.count('class="utt"') == len(res["timeline"])
