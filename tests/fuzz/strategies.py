"""Hostile inputs, as hypothesis strategies: transcripts, manifests, WAV headers and bundle
mutations. Each draws from a mix of plausible and absurd values, so most examples get past
the first check and reach the deeper ones."""

from __future__ import annotations

import io
import json
import struct
import zipfile

from hypothesis import strategies as st

# ----------------------------------------------------------------------------- text pieces
MARKUP = ["[bold]", "[/x]", "[/]", "[red]x[/red]", ":x:", "[link=http://x]y[/link]"]
FORMULA = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "=1+1"]
CONTROL = ["\x00", "\x1b[31m", "\r", "\x7f", "\x85", "\u2028", "\ufeff", "\x0c", "\t", "\n"]
TIMES = ["0", "1.5", "-1", "nan", "NaN", "inf", "-inf", "1e308", "1e-320", "", " ", "abc",
         "1,5", "0x10", "9" * 400, "3.0.1", "1_000", "١٢"]


def words() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["i feel low", "fine thanks", "<sync>", "[laughter]", "xxx",
                         "scrubbed_entry", "", " "]),
        st.sampled_from(MARKUP + FORMULA + CONTROL),
        st.text(max_size=40),
        st.builds(lambda n: "w" * n, st.integers(0, 300_000)),
    )


def time_cell() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(TIMES),
                     st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr),
                     st.integers(-10, 200).map(str),
                     st.floats(0, 100, allow_nan=False, allow_subnormal=False).map(lambda x: f"{x:.3f}"))


HEADERS = [["start_time", "stop_time", "speaker", "value"],
           ["start_time", "stop_time", "value"], ["Start_Time", "End_Time", "Text", "Confidence"],
           ["start_time", "stop_time", "speaker"], ["value"], [], ["a", "b", "c", "d"],
           ["start_time", "start_time", "speaker", "value"]]


@st.composite
def transcripts(draw) -> bytes:
    """A transcript's bytes: random header, delimiter, rows of hostile cells, quotes, BOMs,
    encodings, NUL bytes, truncation."""
    sep = draw(st.sampled_from(["\t", ",", ";", "\t\t", " "]))
    header = draw(st.sampled_from(HEADERS))
    rows = [sep.join(header)] if header else []
    for _ in range(draw(st.integers(0, 8))):
        ncells = draw(st.sampled_from([len(header) or 4, 1, 2, 3, 4, 5, 9]))
        cells = [draw(time_cell()), draw(time_cell()),
                 draw(st.sampled_from(["Participant", "Ellie", "participant", "", "P",
                                       "[bold]Participant"])),
                 draw(words()), draw(words())][:ncells]
        if draw(st.booleans()):  # a sane, increasing pair of times
            a = draw(st.floats(0, 8, allow_nan=False, allow_subnormal=False))
            cells[:2] = [f"{a:.2f}", f"{a + draw(st.floats(-2, 3, allow_nan=False, allow_subnormal=False)):.2f}"]
        if draw(st.integers(0, 9)) == 0:  # an unclosed or stray quote
            cells[-1] = '"' + cells[-1]
        rows.append(sep.join(cells))
    if rows and draw(st.booleans()):
        rows += [rows[-1]] * draw(st.integers(1, 3))  # duplicated lines
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = eol.join(rows) + draw(st.sampled_from([eol, ""]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    data = text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")
    tweak = draw(st.integers(0, 7))
    if tweak == 0:
        data = data[: draw(st.integers(0, len(data)))]
    elif tweak == 1:
        data = b"\xff\xfe\xc3(" + data  # invalid UTF-8
    elif tweak == 2:
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + b"\x00" + data[pos:]
    elif tweak == 3:
        data = draw(st.binary(max_size=2000))
    return data


# ----------------------------------------------------------------------------- manifests
PATH_KINDS = ["good.wav", "good.csv", "missing.wav", "/etc/passwd", "dir", "fifo", "devnull",
              "../outside.wav", "../../../../etc/hostname", "", " ", "good.wav::m", "g.zip::a.wav",
              "bad.wav", "empty.wav", "[bold]x.wav", "a\nb.wav", "ABS_GOOD", "good.csv/x",
              "x" * 300]
COLUMNS = ["session_id", "label", "split", "audio", "transcript", "text", "speaker", "gender",
           "phq8_score", "SESSION_ID", "Label", "extra", ""]


SANE = {"audio": ["good.wav"], "transcript": ["good.csv"], "text": ["i feel low", "fine"],
        "label": ["0", "1"], "split": ["train", "dev", "test", ""], "gender": ["m", "f"],
        "phq8_score": ["3", "15"], "speaker": ["p1", "p2", ""]}


def _cell(draw, column: str, odds: int) -> str:
    """A cell: hostile about once in `odds`, else sane (where the column has sane values)."""
    col = column.lower()
    if col in SANE and draw(st.integers(0, odds - 1)) > 0:
        return draw(st.sampled_from(SANE[col]))
    if col in ("audio", "transcript"):
        return draw(st.one_of(st.sampled_from(PATH_KINDS), st.text(max_size=20)))
    if col == "label":
        return draw(st.sampled_from(["0", "1", "2", "-1", "nan", "", "1.0", "yes", " 1", "inf"]))
    if col == "split":
        return draw(st.sampled_from(["train", "dev", "test", "", "TRAIN", "val", "[bold]"]))
    if col == "phq8_score":
        return draw(st.sampled_from(["0", "24", "25", "-3", "nan", "1e9", "", "7.5"]))
    if col == "gender":
        return draw(st.sampled_from(["m", "f", "1", "0", "x", ""]))
    return draw(words())


@st.composite
def manifests(draw) -> bytes:
    """A manifest's bytes: mostly well-formed columns and rows with hostile cells (paths
    that are missing, absolute, folders, FIFOs, devices, `..`, zip members, huge; bad labels;
    duplicated IDs), sometimes random columns, damaged bytes."""
    import csv

    if draw(st.sampled_from([True] * 5 + [False])):
        data_cols = draw(st.sampled_from([["audio"], ["transcript"], ["text"], ["audio", "text"],
                                          ["audio", "transcript"], ["transcript", "text"]]))
        extra = draw(st.lists(st.sampled_from(["speaker", "gender", "phq8_score", "extra"]),
                              max_size=2, unique=True))
        columns = ["session_id", "label", "split"] + data_cols + extra
        columns = draw(st.permutations(columns))
    else:
        columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=7))
    odds = draw(st.sampled_from([2, 10, 40]))
    rows = []
    ids = ["a", "b", "c", "d", "[bold]e", "=1+1", "", "a", "x\ny"]
    for i in range(draw(st.integers(1, 8))):
        row = [_cell(draw, c, odds) for c in columns]
        if "session_id" in columns:
            row[columns.index("session_id")] = draw(st.sampled_from([f"s{i}"] * 6 + ids))
        rows.append(row)
    buf = io.StringIO()
    delimiter = draw(st.sampled_from([","] * 6 + ["\t", ";"]))
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows([columns, *rows])
    data = buf.getvalue().encode("utf-8", "surrogatepass")
    tweak = draw(st.sampled_from(range(16)))
    if tweak == 0:
        data = b"\xef\xbb\xbf" + data
    elif tweak == 1:
        data = data[: draw(st.integers(0, len(data)))]
    elif tweak == 2:
        data = data.replace(b",", b',"', 1)  # an unclosed quote
    elif tweak == 3:
        data = draw(st.binary(max_size=500))
    return data


# ----------------------------------------------------------------------------- WAV headers
FORMAT_TAGS = [1, 3, 0xFFFE, 6, 7, 2, 0x11, 0, 0xFFFF, 0x55]


WAV_FIELDS = ["tag", "channels", "rate", "bits", "block", "byte_rate", "fmt_size", "data_size",
              "riff", "chunks", "truncate", "magic", "extensible"]


@st.composite
def wavs(draw) -> bytes:
    """RIFF/WAVE bytes, sane but for a few fields: a random fmt chunk (format tag, channels,
    rate, bits, block align), a data chunk whose size may lie, extra chunks, zero-length or
    truncated data."""
    import numpy as np

    bad = draw(st.sets(st.sampled_from(WAV_FIELDS), max_size=3))
    u32 = st.one_of(st.sampled_from([0, 1, 7999, 192001, 2**31, 2**32 - 1]),
                    st.integers(0, 2**32 - 1))
    u16 = st.one_of(st.sampled_from([0, 1, 3, 64, 65535]), st.integers(0, 65535))

    def field(name, sane, hostile):
        return draw(hostile) if name in bad else sane

    tag = field("tag", draw(st.sampled_from([1, 1, 3])), st.one_of(st.sampled_from(FORMAT_TAGS), u16))
    channels = field("channels", draw(st.sampled_from([1, 1, 2])), u16)
    rate = field("rate", draw(st.sampled_from([16000, 8000, 44100, 192000])), u32)
    bits = field("bits", 32 if tag == 3 else draw(st.sampled_from([16, 16, 8, 24])), u16)
    block = field("block", max(1, channels * bits // 8) % 65536, u16)
    byte_rate = field("byte_rate", rate * block % 2**32, u32)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block, bits)
    if tag == 0xFFFE or "extensible" in bad:  # cbSize + extensible fields
        fmt += struct.pack("<HHI", 22, bits, draw(u32)) + draw(st.binary(min_size=16,
                                                                         max_size=16))
    fmt_size = field("fmt_size", len(fmt), u32)
    seconds = draw(st.sampled_from([3.0, 1.0, 0.01, 0]))
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    n = int(seconds * 16000)
    payload = (3000 * np.sin(np.arange(n) / 7) + rng.normal(0, 300, n)).astype("<i2").tobytes()
    data_size = field("data_size", len(payload), u32)
    chunks = [b"fmt " + struct.pack("<I", fmt_size) + fmt]
    for _ in range(draw(st.integers(1, 2)) if "chunks" in bad else 0):
        body = draw(st.binary(max_size=64))
        size = draw(st.one_of(st.just(len(body)), u32))
        chunks.insert(draw(st.integers(0, len(chunks))),
                      draw(st.sampled_from([b"LIST", b"fact", b"JUNK", b"data", b"fmt "]))
                      + struct.pack("<I", size) + body)
    chunks.append(b"data" + struct.pack("<I", data_size) + payload)
    body = b"WAVE" + b"".join(chunks)
    riff = field("riff", len(body), u32)
    magic = field("magic", b"RIFF", st.sampled_from([b"RIFX", b"RF64", b"riff"]))
    data = magic + struct.pack("<I", riff) + body
    if "truncate" in bad:
        data = data[: draw(st.integers(0, len(data)))]
    return data


# ----------------------------------------------------------------------------- bundles
def json_values(max_leaves: int = 12) -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                        st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, 0.5, 1e308]),
                        st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False), st.text(max_size=12))
    return st.recursive(scalars, lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
        max_leaves=max_leaves)


def members_of(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members.pop("manifest.json"))
    return manifest, members


def _mutate_json(draw, blob: bytes) -> bytes:
    how = draw(st.integers(0, 5))
    if how == 0:
        return json.dumps(draw(json_values())).encode()
    if how == 1:
        depth = draw(st.sampled_from([50, 1000, 100_000]))
        return b"[" * depth + b"]" * depth
    if how == 2:
        return draw(st.binary(max_size=200))
    obj = json.loads(blob)
    if not isinstance(obj, dict) or not obj:
        return json.dumps(draw(json_values())).encode()
    path = [obj]
    node = obj
    while isinstance(node, dict) and node and draw(st.booleans()):  # go down a few levels
        key = draw(st.sampled_from(sorted(node)))
        if not isinstance(node[key], dict) or not node[key]:
            break
        node = node[key]
        path.append(node)
    key = draw(st.sampled_from(sorted(node)))
    if how == 3:
        del node[key]
    elif how == 4:
        node[key] = draw(json_values(4))
    else:
        node[key] = draw(st.sampled_from([10**9, 2**40, -1, 0, 1e308, "nan", None, [], 4_000_000]))
    return json.dumps(obj).encode()


def _mutate_safetensors(draw, blob: bytes) -> bytes:
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    names = sorted(k for k in header if k != "__metadata__")
    how = draw(st.integers(0, 4))
    if how == 0 and names:
        name = draw(st.sampled_from(names))
        header[name]["shape"] = draw(st.lists(st.sampled_from([0, 1, 3, 2**20, 2**40, -1]),
                                              max_size=3))
    elif how == 1 and names:
        name = draw(st.sampled_from(names))
        header[name]["dtype"] = draw(st.sampled_from(["F16", "I64", "BOOL", "X", "F8_E4M3"]))
    elif how == 2 and names:
        name = draw(st.sampled_from(names))
        header[name]["data_offsets"] = draw(st.lists(st.integers(-5, 2**62), max_size=3))
    elif how == 3:
        return struct.pack("<Q", draw(st.sampled_from([0, n + 7, 2**63, 2**40]))) + blob[8:]
    else:
        header[draw(st.text(max_size=6))] = draw(json_values(3))
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + blob[8 + n:]


@st.composite
def bundle_bytes(draw, base: bytes) -> bytes:
    """A mutation of a real bundle: raw byte damage (caught by the checksums), or a changed,
    added or removed member re-signed so it reaches the validators behind the checksums."""
    from depscreen.inference.archive import write_archive

    kind = draw(st.sampled_from(["member"] * 3 + ["weights"] * 2 + ["zip", "flip", "truncate"]))
    if kind == "flip":
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "truncate":
        return base[: draw(st.integers(0, len(base) - 1))]
    manifest, members = members_of(base)
    if kind == "member":
        name = draw(st.sampled_from(sorted(n for n in members if n.endswith(".json"))))
        members[name] = _mutate_json(draw, members[name])
    elif kind == "weights":
        members["weights.safetensors"] = _mutate_safetensors(draw, members["weights.safetensors"])
    else:
        if draw(st.booleans()):
            members.pop(draw(st.sampled_from(sorted(members))))
        else:
            extra = draw(st.sampled_from(["../evil.json", "/abs.json", "a/b.json", "x.py",
                                          "regression.json", "vocab.json", "..", "a\\b"]))
            members[extra] = draw(st.binary(max_size=50))
    return write_archive(members, manifest.get("model", "?"), manifest.get("model_version", "?"))
