"""The two public corpora as depscreen manifests: one CSV per cross-validation fold.

* RAVDESS (audio-only speech, ``03-01-EE-II-SS-RR-AA.wav``): sad (emotion 04) is label 1,
  neutral (01) and calm (02) are label 0, every other emotion is dropped. Groups are actors.
* Reddit (``clean_text, is_depression``): one post per session, label ``is_depression``;
  empty posts, rows without a 0/1 label and exact duplicate posts (they would leak between
  folds) are dropped. Groups are posts.
* paired: each RAVDESS clip with one Reddit post of the same label (deterministic from a
  seed, each post used at most once): audio and inline text in one session, grouped by actor.

Fold k of K: ``test`` holds fold k's groups, ``dev`` fold (k+1) mod K's, ``train`` the rest.
Nothing is ever written next to the corpora.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$", re.I)
RAVDESS_MODALITY_AUDIO_ONLY = "03"
RAVDESS_VOCAL_SPEECH = "01"
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                    "06": "fearful", "07": "disgust", "08": "surprised"}
RAVDESS_LABELS = {"01": 0, "02": 0, "04": 1}  # neutral, calm -> 0; sad -> 1; others dropped

REDDIT_TEXT = "clean_text"
REDDIT_LABEL = "is_depression"

MANIFEST_COLUMNS = ("session_id", "label", "split", "speaker", "gender", "audio", "text")


class CorpusProblem(Exception):
    """A corpus that cannot be converted (message meant for the user)."""


@dataclass(frozen=True)
class Item:
    """One session of a converted corpus."""

    session_id: str
    label: int
    group: str  # the unit of fold assignment (actor, or the session itself)
    audio: str | None = None  # absolute path
    text: str | None = None
    gender: str | None = None
    parts: tuple[str, ...] = ()  # paired sessions: (clip session id, post session id)


# ------------------------------------------------------------------------------ RAVDESS
def read_ravdess(root: Path) -> tuple[list[Item], dict]:
    """Every audio-only speech clip under `root` with a sad / neutral / calm emotion.

    Returns the items (sorted by file name) and counts of what was found and dropped.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise CorpusProblem(f"RAVDESS folder not found: {root}")
    seen: dict[str, Path] = {}
    emotions: Counter[str] = Counter()
    n_other = 0
    for path in sorted(root.rglob("*.wav")):
        m = RAVDESS_NAME.match(path.name)
        if not m or m.group(1) != RAVDESS_MODALITY_AUDIO_ONLY or m.group(2) != RAVDESS_VOCAL_SPEECH:
            n_other += 1
            continue
        key = path.name.lower()
        if key in seen:
            raise CorpusProblem(f"RAVDESS clip found twice: {seen[key]} and {path}; "
                                "point --ravdess at one copy (Audio_Speech_Actors_01-24)")
        seen[key] = path
        emotions[RAVDESS_EMOTIONS.get(m.group(3), m.group(3))] += 1
    items = []
    for path in seen.values():
        fields = RAVDESS_NAME.match(path.name).groups()  # type: ignore[union-attr]
        emotion, actor = fields[2], fields[6]
        if emotion not in RAVDESS_LABELS:
            continue
        items.append(Item(
            session_id=f"rav-{path.stem}",
            label=RAVDESS_LABELS[emotion],
            group=f"actor{actor}",
            audio=str(path),
            gender="male" if int(actor) % 2 else "female",  # RAVDESS: odd actors are male
        ))
    if not items:
        raise CorpusProblem(f"no RAVDESS audio-only speech clips (03-01-*.wav) of emotion "
                            f"neutral, calm or sad under {root}")
    items.sort(key=lambda it: it.session_id)
    stats = {"clips_found": sum(emotions.values()), "by_emotion": dict(sorted(emotions.items())),
             "other_wav_ignored": n_other, "kept": len(items)}
    return items, stats


# ------------------------------------------------------------------------------ Reddit
def normalise_text(text: str) -> str:
    """One line of text: undecodable bytes and runs of whitespace become one space."""
    return " ".join(text.replace("\ufffd", " ").split())


def read_reddit(path: Path) -> tuple[list[Item], dict]:
    """The Reddit posts with a 0/1 label, in file order; empty and duplicate posts dropped."""
    path = Path(path).expanduser().resolve()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusProblem(f"cannot read Reddit CSV {path}: {e.strerror or e}") from e
    try:
        content, n_undecodable = data.decode("utf-8-sig"), 0
    except UnicodeDecodeError:
        content = data.decode("utf-8-sig", errors="replace")
        n_undecodable = content.count("\ufffd")
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [c.strip().lower() for c in next(reader, [])]
    if REDDIT_TEXT not in header or REDDIT_LABEL not in header:
        raise CorpusProblem(f"{path}: expected columns {REDDIT_TEXT}, {REDDIT_LABEL}; "
                            f"found {', '.join(header) or 'none'}")
    i_text, i_label = header.index(REDDIT_TEXT), header.index(REDDIT_LABEL)
    items: list[Item] = []
    texts: set[str] = set()
    dropped: Counter[str] = Counter()
    n_rows = 0
    for n_rows, row in enumerate(reader, start=1):  # noqa: B007 - n_rows used after the loop
        raw_label = row[i_label].strip() if len(row) > i_label else ""
        label = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}.get(raw_label)
        text = normalise_text(row[i_text]) if len(row) > i_text else ""
        if label is None:
            dropped["no 0/1 label"] += 1
        elif not text:
            dropped["empty text"] += 1
        elif text in texts:
            dropped["duplicate text"] += 1
        else:
            texts.add(text)
            items.append(Item(session_id=f"reddit-{n_rows:05d}", label=label,
                              group=f"reddit-{n_rows:05d}", text=text))
    if not items:
        raise CorpusProblem(f"{path}: no usable rows")
    stats = {"rows": n_rows, "dropped": dict(sorted(dropped.items())), "kept": len(items),
             "undecodable_characters": n_undecodable}
    return items, stats


def stratified_subsample(items: list[Item], n: int | None, seed: int) -> list[Item]:
    """At most `n` items with the class shares of `items` (seeded), in their original order."""
    if n is None or n >= len(items):
        return list(items)
    if n < 2:
        raise CorpusProblem(f"--reddit-max must be at least 2, got {n}")
    by_label: dict[int, list[Item]] = defaultdict(list)
    for it in items:
        by_label[it.label].append(it)
    labels = sorted(by_label)
    quota = {y: round(n * len(by_label[y]) / len(items)) for y in labels}
    quota[labels[-1]] = n - sum(quota[y] for y in labels[:-1])  # exactly n in total
    rng = random.Random(seed)
    keep = set()
    for y in labels:
        keep.update(it.session_id for it in rng.sample(by_label[y], min(quota[y], len(by_label[y]))))
    return [it for it in items if it.session_id in keep]


# ------------------------------------------------------------------------------ pairing
def pair_items(clips: list[Item], posts: list[Item], seed: int) -> list[Item]:
    """One post of the same label for every clip (each post at most once), from `seed`.

    A paired session keeps the clip's audio, actor (its group) and gender and the post's text.
    """
    rng = random.Random(seed)
    pools: dict[int, list[Item]] = {}
    for label in sorted({c.label for c in clips}):
        pool = sorted((p for p in posts if p.label == label), key=lambda p: p.session_id)
        rng.shuffle(pool)
        pools[label] = pool
    need = Counter(c.label for c in clips)
    short = {y: (need[y], len(pools[y])) for y in need if need[y] > len(pools[y])}
    if short:
        raise CorpusProblem("not enough Reddit posts to pair every clip: " + ", ".join(
            f"label {y}: {n} clips, {m} posts" for y, (n, m) in sorted(short.items())))
    taken: Counter[int] = Counter()
    paired = []
    for clip in sorted(clips, key=lambda c: c.session_id):
        post = pools[clip.label][taken[clip.label]]
        taken[clip.label] += 1
        paired.append(Item(
            session_id=f"pair-{clip.session_id.removeprefix('rav-')}-{post.session_id}",
            label=clip.label, group=clip.group, audio=clip.audio, text=post.text,
            gender=clip.gender, parts=(clip.session_id, post.session_id),
        ))
    return paired


def first_words(items: list[Item], n: int) -> list[Item]:
    """The same sessions with each text cut to its first `n` words (about one spoken answer)."""
    return [dataclasses.replace(it, text=" ".join((it.text or "").split()[:n])) for it in items]


# ------------------------------------------------------------------------------ folds
def assign_folds(items: list[Item], k: int, seed: int) -> dict[str, int]:
    """Each group's fold (0..k-1): stratified by the group's label and gender, seeded.

    Groups are split into strata (their label when all their items share one, else "mixed";
    and their gender), each stratum's groups are shuffled (after sorting), and the strata are
    dealt round-robin into the folds one after the other. RAVDESS actors (all mixed) end up
    2 men + 2 women per fold for K=6; Reddit posts end up class-stratified.
    """
    if k < 3:
        raise CorpusProblem(f"need at least 3 folds (test, dev and train), got {k}")
    members: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        members[it.group].append(it)
    if len(members) < k:
        raise CorpusProblem(f"{len(members)} groups cannot fill {k} folds")
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for group, its in members.items():
        labels = {it.label for it in its}
        label = str(labels.pop()) if len(labels) == 1 else "mixed"
        genders = {it.gender or "" for it in its}
        strata[(label, genders.pop() if len(genders) == 1 else "mixed")].append(group)
    rng = random.Random(seed)
    folds: dict[str, int] = {}
    i = 0
    for key in sorted(strata):
        groups = sorted(strata[key])
        rng.shuffle(groups)
        for group in groups:
            folds[group] = i % k
            i += 1
    return folds


def split_of(fold_of_group: int, fold: int, k: int) -> str:
    """The split of a group in fold `fold`: test = that fold, dev = the next one, else train."""
    if fold_of_group == fold:
        return "test"
    if fold_of_group == (fold + 1) % k:
        return "dev"
    return "train"


def manifest_rows(items: Iterable[Item], folds: dict[str, int], fold: int, k: int,
                  speaker: str = "group") -> list[dict[str, str]]:
    """The manifest rows of fold `fold`. `speaker` is "group" (the actor) or "session"."""
    rows = []
    for it in items:
        rows.append({
            "session_id": it.session_id,
            "label": str(it.label),
            "split": split_of(folds[it.group], fold, k),
            "speaker": it.group if speaker == "group" else it.session_id,
            "gender": it.gender or "",
            "audio": it.audio or "",
            "text": it.text or "",
        })
    return rows


def manifest_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it (keeps prepare's cache valid)."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def sizes(items: list[Item], folds: dict[str, int] | None = None) -> dict:
    """Sessions per class and number of groups (and groups per fold)."""
    out = {"sessions": len(items),
           "per_class": {str(y): n for y, n in sorted(Counter(it.label for it in items).items())},
           "groups": len({it.group for it in items})}
    if folds is not None:
        per_fold: dict[int, Counter[int]] = defaultdict(Counter)
        for it in items:
            per_fold[folds[it.group]][it.label] += 1
        out["per_fold"] = {str(f): {str(y): n for y, n in sorted(c.items())}
                           for f, c in sorted(per_fold.items())}
    return out
