"""One interview's screening page, rendered from `predict_interview`'s result dict.

Everything is rendered here, server-side, into one self-contained HTML string: the decision
and calibrated probability on a 0-1 scale with the dev threshold drawn on it (or, for a model
with a PHQ-8 score head, the estimate with its interval and band on the 0-24 scale), the
per-modality probabilities, and a timeline with one element per scored utterance, coloured
by its fused, text and speech probabilities. The only script (assets.SCRIPT) wires clicks to
the embedded recording. Every string from the result (session IDs, paths, warnings, words)
goes through `html.escape`; the result itself is embedded as JSON with `<`, `>` and `&`
escaped, so nothing in it can close the script element. The page shows exactly what the
result holds: transcript words only when the result was made with `include_text`.
"""

from __future__ import annotations

import json
import re
from html import escape

from depscreen.view.assets import CSP, CSS, SCRIPT

ROWS = (("probability", "fused"), ("text", "text"), ("speech", "speech"))
SCORE_MAX = 24.0
SCREEN_AT = 10.0  # the PHQ-8 cutoff: a score-only model's timeline is grey there
DATA_URI = re.compile(r"data:audio/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]*")


def script_json(obj: object) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or `&` can appear."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def shell(title: str, body: str, script: bool = True) -> str:
    """A complete page: CSP (nothing external may load), inline CSS, the body, the script."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
        + (f"<script>{SCRIPT}</script>" if script else "") + "</body></html>\n")


def colour(value: float | None) -> str:
    """A probability as a colour: blue (low) through light grey (0.5) to red (high)."""
    if value is None:
        return "#d9d9de"
    v = min(1.0, max(0.0, float(value)))
    hue = 215 if v < 0.5 else 4
    # 0 at 0.5, 1 at either end; the square root makes small departures from 0.5 visible.
    strength = (abs(v - 0.5) * 2) ** 0.5
    return f"hsl({hue},{int(15 + 55 * strength)}%,{int(93 - 45 * strength)}%)"


def _pct(x: float, top: float = 1.0) -> str:
    return f"{100.0 * min(max(x / top, 0.0), 1.0):.3f}%"


def _fmt(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def _probability_scale(p: float, threshold: float) -> str:
    return (f'<div class="scale" role="img" aria-label="probability {p:.2f}, threshold '
            f'{threshold:.2f}"><span class="thr" style="left:{_pct(threshold)}">'
            f'<span class="lab">threshold {threshold:.2f} (dev)</span></span>'
            f'<span class="mark" style="left:{_pct(p)}"><span class="lab">'
            f'p = {p:.2f}</span></span><span class="ends" style="left:0">0</span>'
            '<span class="ends" style="right:0">1</span></div>')


def _score_block(score: dict, cutoff: float) -> str:
    lo, hi = score["interval"]
    x = score["estimate"]
    return (
        f'<p>Estimated PHQ-8 <b>{x:.1f}</b> ({score["interval_level"]:.0%} interval '
        f'{lo:.1f}–{hi:.1f}; {escape(str(score["interval_from"]))}) · band '
        f'<b class="band-name">{escape(str(score["band"]))}</b></p>'
        f'<div class="scale" role="img" aria-label="PHQ-8 estimate {x:.1f}">'
        f'<span class="band" style="left:{_pct(lo, SCORE_MAX)};width:'
        f'{_pct(hi - lo, SCORE_MAX)}"></span><span class="thr" style="left:'
        f'{_pct(cutoff, SCORE_MAX)}"><span class="lab">cutoff {cutoff:g}</span></span>'
        f'<span class="mark" style="left:{_pct(x, SCORE_MAX)}"><span class="lab">'
        f'{x:.1f}</span></span><span class="ends" style="left:0">0</span>'
        f'<span class="ends" style="right:0">{SCORE_MAX:g}</span></div>')


def decision_block(result: dict) -> str:
    """The decision, the probability on its scale and, with a score head, the PHQ-8 part."""
    decision = result["decision"]
    label = str(decision["label"])
    parts = [f'<div class="card"><div class="decision {"pos" if decision["depressed"] else "neg"}"'
             f' id="decision">{escape(label)}</div>']
    p = result.get("probability")
    if p is not None:
        parts.append(f'<p>Calibrated probability of depression <b id="probability">{p:.2f}'
                     f'</b>; the decision threshold {decision["threshold"]:.2f} was chosen '
                     f'on the development set.</p>')
        parts.append(_probability_scale(p, decision["threshold"]))
    if "score" in result:
        cutoff = (decision["threshold"] if decision.get("threshold_level") == "score"
                  else SCREEN_AT)
        parts.append(_score_block(result["score"], cutoff))
    parts.append("</div>")
    return "".join(parts)


def modality_block(result: dict) -> str:
    rows = []
    for m in ("text", "speech"):
        v = result["modalities"].get(m)
        bar = (f'<div class="bar"><i style="width:{_pct(v)};background:{colour(v)}"></i></div>'
               if v is not None else '<div class="meta">not used</div>')
        rows.append(f'<div>{m}</div>{bar}<div class="num">{_fmt(v)}</div>')
    return ('<h2>Per-modality probabilities</h2><div class="card mods">' + "".join(rows)
            + "</div>")


def _span(timeline: list[dict], duration: float | None) -> float:
    ends = [e["end"] for e in timeline if e.get("end") is not None]
    return max([duration or 0.0, *ends, 0.0])


def _utterance(i: int, e: dict, left: float, width: float) -> str:
    times = f"{e['start']:.1f}–{e['end']:.1f} s"
    probs = " · ".join(f"{name} {_fmt(e.get(key))}" for key, name in ROWS)
    if "score" in e:
        probs += f" · PHQ-8 {e['score']:.1f}"
    tip = f"#{i + 1} {times} · {probs}"
    if "words" in e:
        tip += f"\n“{e['words']}”"
    values = [e.get(key) for key, _ in ROWS]
    if values[0] is None and "score" in e:  # a score-only model: the estimate, grey at 10
        values[0] = min(e["score"] / (2 * SCREEN_AT), 1.0)
    cells = "".join(f'<i style="background:{colour(v)}"></i>' for v in values)
    return (f'<div class="utt" tabindex="0" role="button" data-i="{i}" '
            f'data-start="{e["start"]:.3f}" data-end="{e["end"]:.3f}" '
            f'style="left:{left:.4f}%;width:{width:.4f}%" title="{escape(tip)}">{cells}</div>')


def timeline_block(result: dict, has_audio: bool) -> str:
    """One `.utt` element per scored utterance, placed in time (evenly, without times)."""
    timeline = result["timeline"]
    span = _span(timeline, result["inputs"].get("duration_s"))
    items = []
    for i, e in enumerate(timeline):
        if span > 0:
            left = 100.0 * e["start"] / span
            width = max(100.0 * (e["end"] - e["start"]) / span, 0.15)
        else:  # no times (inline text): side by side
            left, width = 100.0 * i / len(timeline), 100.0 / len(timeline)
        items.append(_utterance(i, e, min(left, 99.85), width))
    ticks = ""
    if span > 0:
        step = next(s for s in (10, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if span / s <= 12)
        ticks = "".join(f'<span style="left:{100.0 * t / span:.3f}%">{int(t // 60)}:'
                        f'{int(t % 60):02d}</span>'
                        for t in (k * step for k in range(int(span // step) + 1)))
    hint = ("Click an utterance to play it." if has_audio
            else "Run with --embed-audio to listen to the utterances.")
    return (
        f'<h2>Timeline ({len(timeline)} participant utterances scored)</h2>'
        '<div class="tl-wrap"><div class="tl-labels"><div>fused</div><div>text</div>'
        f'<div>speech</div></div><div><div id="timeline">{"".join(items)}</div>'
        f'<div class="axis">{ticks}</div></div></div>'
        f'<div class="legend">probability <b style="background:{colour(0)}"></b>0 '
        f'<b style="background:{colour(0.5)}"></b>0.5 <b style="background:{colour(1)}"></b>1 '
        f'<b style="background:{colour(None)}"></b>absent · hover for details. '
        f'{hint}</div>')


def render_page(result: dict, audio_uri: str | None = None,
                back_link: tuple[str, str] | None = None) -> str:
    """The page of one interview. `audio_uri`: the recording as a data: URI (media.py), or
    None for a page without audio; `back_link`: (href, label), e.g. the batch's index."""
    model = result["model"]
    sid = str(result["session_id"])
    head = (f'<h1>Screening report: <span id="session">{escape(sid)}</span></h1>'
            f'<div class="meta">model {escape(str(model["name"]))} (version '
            f'{escape(str(model["version"]))}, calibration {escape(str(model.get("calibration")))}'
            f') · depscreen {escape(str(result["depscreen_version"]))} · inputs: '
            f'{escape(", ".join(result["inputs"]["modalities_used"]))}'
            + (f' · {result["inputs"]["duration_s"] / 60:.1f} min'
               if result["inputs"].get("duration_s") else "") + "</div>")
    if back_link is not None:
        href, label = back_link
        head = f'<p class="meta"><a href="{escape(href)}">{escape(label)}</a></p>' + head
    if audio_uri is not None and not DATA_URI.fullmatch(audio_uri[:64]):
        raise ValueError("audio_uri must be a base64 data: URI of audio (view/media.py)")
    # A base64 data: URI has no character that needs escaping (checked above; the rest of it
    # is base64 by construction); skipping escape() saves a pass over ~30 MB.
    audio = (f'<audio id="player" controls preload="auto" src="{audio_uri}"></audio>'
             if audio_uri else "")
    warnings = "".join(f'<li>{escape(str(w))}</li>' for w in result.get("warnings", []))
    body = "\n".join([
        head, decision_block(result), modality_block(result),
        timeline_block(result, bool(audio_uri)), audio,
        f'<h2>Warnings</h2><ul class="warn">{warnings}</ul>' if warnings else "",
        f'<div class="caveat" id="caveat">{escape(str(result["caveat"]))}</div>',
        f'<script type="application/json" id="depscreen-result">{script_json(result)}</script>',
    ])
    return shell(f"depscreen: {sid}", body)
