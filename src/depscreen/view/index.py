"""The index page of a batch (`predict FOLDER|--manifest ... --report INDEX.html`): the
sessions ranked by calibrated probability (by estimated PHQ-8 score for a model without a
binary head), each linking to its own page beside the index; sessions that could not be
scored are listed last with their one-line error.

Session IDs come from file names a user chose: they are escaped into the HTML and sanitised
into page file names (`page_name`), which can never leave the index's folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from depscreen import CAVEAT
from depscreen.view.page import colour, shell

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def page_name(index_stem: str, session_id: str, taken: set[str]) -> str:
    """`{index stem}-{session}.html`, the session ID reduced to [A-Za-z0-9._-] (no path
    separators, no leading dot); a short hash keeps IDs that reduce alike apart."""
    safe = _UNSAFE.sub("_", session_id).strip("._-")[:80] or "session"
    name = f"{index_stem}-{safe}.html"
    if name.lower() in taken or safe != session_id:
        digest = hashlib.sha1(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{index_stem}-{safe}-{digest}.html"
    taken.add(name.lower())
    return name


def _key(row: Mapping) -> tuple:
    if row["error"]:
        return (2, 0.0, str(row["session_id"]))
    if row["probability"] != "":
        return (0, -float(row["probability"]), str(row["session_id"]))
    return (1, -float(row["score"] or 0.0), str(row["session_id"]))


def _num(v: object, nd: int = 2) -> str:
    return "—" if v in ("", None) else f"{float(v):.{nd}f}"


def _row(rank: int, row: Mapping, page: str | None, has_score: bool) -> str:
    sid = escape(str(row["session_id"]))
    link = f'<a href="{escape(quote(page))}">{sid}</a>' if page else sid
    if row["error"]:
        cells = f'<td colspan="{6 if has_score else 5}" class="err">{escape(str(row["error"]))}</td>'
        return f"<tr><td class=\"num\">–</td><td>{link}</td>{cells}</tr>"
    p = row["probability"]
    decision = "screen positive" if str(row["decision"]) == "1" else "screen negative"
    score = ""
    if has_score:
        score = (f'<td>{_num(row["score"], 1)} [{_num(row["score_low"], 1)}, '
                 f'{_num(row["score_high"], 1)}] {escape(str(row["band"]))}</td>'
                 if row["score"] != "" else "<td>—</td>")
    swatch = (f'<b style="display:inline-block;width:12px;height:12px;background:'
              f'{colour(float(p))}"></b> ' if p != "" else "")
    minutes = f"{float(row['duration_s']) / 60:.1f}" if row["duration_s"] != "" else "—"
    return (f'<tr class="session"><td class="num">{rank}</td><td>{link}</td>'
            f'<td>{decision}</td><td class="num">{swatch}{_num(p)}</td>'
            f'<td class="num">{_num(row["p_text"])}</td><td class="num">'
            f'{_num(row["p_speech"])}</td>{score}<td class="num">{minutes}</td></tr>')


def render_index(rows: Sequence[Mapping], pages: Mapping[str, str], model: str) -> str:
    """`rows`: `predict_batch` rows; `pages`: session ID -> its page's file name."""
    ranked = sorted(rows, key=_key)
    has_score = any(r["score"] != "" for r in rows)
    body = [f"<h1>Screening reports: {len(rows)} sessions</h1>",
            f'<div class="meta">model {escape(model)} · ranked by '
            f'{"calibrated probability" if any(r["probability"] != "" for r in rows) else "estimated PHQ-8 score"}'
            " · click a session for its page</div>",
            "<table><thead><tr><th>#</th><th>session</th><th>decision</th><th class=\"num\">"
            "probability</th><th class=\"num\">text</th><th class=\"num\">speech</th>" + ("<th>PHQ-8 [interval] band</th>"
                                                   if has_score else "")
            + "<th class=\"num\">minutes</th></tr></thead><tbody>"]
    rank = 0
    for row in ranked:
        rank += 0 if row["error"] else 1
        body.append(_row(rank, row, pages.get(str(row["session_id"])), has_score))
    body.append(f'</tbody></table><div class="caveat">{escape(CAVEAT)}</div>')
    return shell("depscreen: screening reports", "\n".join(body), script=False)
