"""`reproduce` end to end on the tiny corpus: all seven models, two seeds, every output
checked; a second call trains nothing."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMOKE, Tiny

import depscreen.reproduce as reproduce_mod
from depscreen import CAVEAT
from depscreen.reproduce import ReproduceConfig, reproduce, run_dir
from depscreen.table_models import TABLE_MODELS

PNG = b"\x89PNG\r\n\x1a\n"
SEEDS = 2
# Short, coarse log-Mel windows: the recurrent speech models step through 100 frames at most
# instead of 800 (the smoke test's time goes into LSTM steps). Also checks that reproduce
# extracts and trains with the overridden audio config.
OVERRIDES = {**SMOKE, "audio": {"max_seconds": 2.0, "hop_ms": 20.0}}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
URL_ATTRS = {"src", "href", "srcset", "data", "action", "poster", "background", "formaction"}


class _Page(HTMLParser):
    """Checks that non-void tags balance; collects URL-valued attributes and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in URL_ATTRS:
                self.urls.append((tag, name, value or ""))
            if name == "style":
                self.styles.append(value or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in URL_ATTRS:
                self.urls.append((tag, name, value or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void element <{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)
        self.text.append(data)


@pytest.fixture(scope="module")
def reproduced(tiny: Tiny, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[ReproduceConfig, dict]:
    out = tmp_path_factory.mktemp("reproduce")
    cfg = ReproduceConfig(corpus="daic-woz", root=tiny.root, out=out, seeds=SEEDS,
                          train_overrides=OVERRIDES, jobs=1, n_boot=200)
    summary = reproduce(cfg, progress=False)
    return cfg, summary


def test_table(reproduced: tuple[ReproduceConfig, dict]) -> None:
    cfg, _ = reproduced
    table = pd.read_csv(cfg.out / "table.csv")
    assert len(table) == len(TABLE_MODELS) * 2 == 14
    assert table["model"].tolist() == [m for m in TABLE_MODELS for _ in range(2)]
    assert table["level"].tolist() == ["utterance", "participant"] * len(TABLE_MODELS)
    assert (table["seeds"] == SEEDS).all()
    for key in ("f1_macro", "wa", "ua"):
        for col in (f"{key}_mean", f"{key}_std", f"{key}_ci_low", f"{key}_ci_high"):
            assert table[col].between(0, 100).all(), col
        assert (table[f"{key}_ci_low"] <= table[f"{key}_ci_high"]).all()

    for row in table.itertuples():
        name, paper = TABLE_MODELS[row.model]
        assert row.name == name
        if paper is None:
            assert math.isnan(row.paper_f1_macro)
        else:
            assert (row.paper_f1_macro, row.paper_wa, row.paper_ua) == paper
        # mean and std over the seeds' own test metrics (RUN/eval-test/metrics.json)
        values = [json.loads((run_dir(cfg, row.model, s) / "eval-test" / "metrics.json")
                             .read_text())[row.level]["f1_macro"] for s in range(SEEDS)]
        assert row.f1_macro_mean == pytest.approx(100 * np.mean(values), abs=1e-3)
        assert row.f1_macro_std == pytest.approx(100 * np.std(values, ddof=1), abs=1e-3)

    md = (cfg.out / "table.md").read_text().strip().splitlines()
    assert len(md) == 2 + len(TABLE_MODELS)
    for line, (name, _) in zip(md[2:], TABLE_MODELS.values(), strict=True):
        assert line.startswith(f"| {name} |") and line.count("±") == 6


def test_figures_gender_and_summary(tiny: Tiny, reproduced: tuple[ReproduceConfig, dict]
                                    ) -> None:
    cfg, summary = reproduced
    assert (cfg.out / "confusion_matrix.png").read_bytes().startswith(PNG)

    gender = pd.read_csv(cfg.out / "gender.csv")
    assert gender["model"].tolist() == list(TABLE_MODELS)
    n_test = len(tiny.corpus.by_split("test"))
    assert ((gender["male_n"] + gender["female_n"]) == n_test).all()
    assert {"male_f1", "female_f1", "male_ua", "female_ua", "f1_gap", "ua_gap"} <= set(gender)

    on_disk = json.loads((cfg.out / "summary.json").read_text())
    assert on_disk["seeds"] == list(range(SEEDS)) == summary["seeds"]
    assert on_disk["corpus"] == "daic-woz"
    assert len(on_disk["table"]) == 14
    assert on_disk["reproduce_config"]["train_overrides"] == OVERRIDES
    config = json.loads((run_dir(cfg, "lstm-speech", 0) / "config.json").read_text())
    assert config["features"]["audio"]["hop_ms"] == 20.0
    assert "git_commit" in on_disk["environment"]


def test_report_is_self_contained_html(reproduced: tuple[ReproduceConfig, dict]) -> None:
    cfg, _ = reproduced
    page_text = (cfg.out / "report.html").read_text(encoding="utf-8")
    assert page_text.lstrip().lower().startswith("<!doctype html>")
    page = _Page()
    page.feed(page_text)
    page.close()
    assert not page.errors, page.errors[:5]
    assert not page.stack, f"unclosed tags: {page.stack}"

    # Nothing is fetched from anywhere: every URL is an inline data: URI.
    assert page.urls, "the report should embed its figures"
    for tag, attr, value in page.urls:
        assert value.startswith("data:"), f"<{tag} {attr}={value[:60]!r}> is not inline"
    for css in page.styles:
        assert "@import" not in css
        assert all(u.strip("'\" ").startswith("data:") for u in re.findall(r"url\(([^)]*)\)", css))
    assert "script" not in page.tags and "iframe" not in page.tags

    images = [v for t, a, v in page.urls if t == "img" and a == "src"]
    assert len(images) >= 4  # Fig. 1 (statements, participants), curves, probabilities
    for uri in images:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1], validate=True).startswith(PNG)

    text = " ".join(" ".join(page.text).split())
    assert "not a diagnostic device" in text and " ".join(CAVEAT.split()) in text
    assert "table" in page.tags
    for name, _ in TABLE_MODELS.values():
        assert name in text


def test_second_call_trains_nothing(reproduced: tuple[ReproduceConfig, dict],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = reproduced
    runs = [run_dir(cfg, m, s) for m in TABLE_MODELS for s in range(SEEDS)]
    stamps = {p: p.stat().st_mtime_ns for r in runs
              for p in (r / "done.json", r / "weights.safetensors")}
    table_before = (cfg.out / "table.csv").read_text()

    def no_training(*args, **kwargs):
        raise AssertionError(f"a finished run was trained again: {args[2:3]}")

    monkeypatch.setattr(reproduce_mod, "_train_job", no_training)
    import depscreen.training.run as run_mod

    monkeypatch.setattr(run_mod, "fit_model", no_training)
    reproduce(cfg, progress=False)

    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # Same runs, same test split, same bootstrap seed: the same table.
    assert (cfg.out / "table.csv").read_text() == table_before


def test_another_threshold_rule_rescores_without_training(
        reproduced: tuple[ReproduceConfig, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = reproduced
    assert cfg.threshold_rule == "balanced-logistic"
    runs = [run_dir(cfg, m, s) for m in TABLE_MODELS for s in range(SEEDS)]
    weights = {r: (r / "weights.safetensors").stat().st_mtime_ns for r in runs}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(reproduce_mod, "_train_job", no_training)
    other = dataclasses.replace(cfg, threshold_rule="max-ua")
    try:
        reproduce(other, progress=False)
        for r in runs:
            metrics = json.loads((r / "eval-test" / "metrics.json").read_text())
            assert metrics["threshold_rule"] == "max-ua"
            assert (r / "weights.safetensors").stat().st_mtime_ns == weights[r]
    finally:
        reproduce(cfg, progress=False)  # leave the module's outputs as the other tests expect
    for r in runs:
        metrics = json.loads((r / "eval-test" / "metrics.json").read_text())
        assert metrics["threshold_rule"] == "balanced-logistic"


def test_decision_fusion_reuses_the_lstm_cnn_runs(reproduced: tuple[ReproduceConfig, dict]
                                                  ) -> None:
    cfg, _ = reproduced
    for seed in range(SEEDS):
        spec = json.loads((run_dir(cfg, "decision-fusion", seed) / "model.json").read_text())
        assert {k: Path(v) for k, v in spec["sub_runs"].items()} == {
            m: run_dir(cfg, f"lstm-cnn-{m}", seed) for m in ("text", "speech")}


def test_parallel_jobs(tiny: Tiny, tmp_path: Path) -> None:
    """Two runs in two spawned worker processes (the default when CPUs allow)."""
    models = ["bilstm-text", "lstm-cnn-text"]
    cfg = ReproduceConfig(corpus="daic-woz", root=tiny.root, out=tmp_path, seeds=1,
                          models=models, train_overrides=dict(SMOKE), jobs=2, n_boot=50)
    reproduce(cfg, progress=False)
    for model in models:
        assert (run_dir(cfg, model, 0) / "done.json").is_file()
    table = pd.read_csv(cfg.out / "table.csv")
    assert table["model"].tolist() == [m for m in models for _ in range(2)]


def test_baselines_rows_and_representations(tiny: Tiny, tmp_path: Path) -> None:
    """--baselines adds the classical rows; stacked-fusion reuses the same seed's baselines;
    --speech-features applies to the paper's models only."""
    from depscreen.table_models import BASELINE_MODELS

    models = ["lstm-speech", *BASELINE_MODELS]
    cfg = ReproduceConfig(corpus="daic-woz", root=tiny.root, out=tmp_path, seeds=1,
                          models=models, train_overrides=dict(SMOKE), jobs=1, n_boot=50,
                          representation={"speech_features": "egemaps"})
    reproduce(cfg, progress=False)
    table = pd.read_csv(cfg.out / "table.csv")
    assert set(table["model"]) == set(models)
    stacked = json.loads((run_dir(cfg, "stacked-fusion", 0) / "model.json").read_text())
    assert stacked["sub_runs"] == {"text": str(run_dir(cfg, "tfidf-lr", 0)),
                                   "speech": str(run_dir(cfg, "egemaps-lr", 0))}
    lstm = json.loads((run_dir(cfg, "lstm-speech", 0) / "config.json").read_text())
    assert lstm["train"]["speech_features"] == "egemaps"
    emb = json.loads((run_dir(cfg, "embedding-lr", 0) / "config.json").read_text())
    assert emb["train"]["text_features"] == "minilm"


# ----------------------------------------------------------------------------- Table II
# The fusion starts from the same task's LSTM-CNN runs (their score heads left behind).
REG_MODELS = ["lstm-cnn-text", "lstm-cnn-speech", "bilstm-cnn-fusion", "tfidf-lr"]
# Two epochs, so the best epoch is a choice made on dev.
REG_OVERRIDES = {"max_epochs": 2, "limit_train_batches": 2}


def _regression_cfg(root: Path, out: Path) -> ReproduceConfig:
    return ReproduceConfig(corpus="daic-woz", root=root, out=out, seeds=1, models=REG_MODELS,
                           task="regression", train_overrides=REG_OVERRIDES, jobs=1, n_boot=50)


@pytest.fixture(scope="module")
def regressed(tiny: Tiny, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[ReproduceConfig, dict]:
    cfg = _regression_cfg(tiny.root, tmp_path_factory.mktemp("reproduce-regression"))
    return cfg, reproduce(cfg, progress=False)


def test_regression_writes_table_ii(regressed: tuple[ReproduceConfig, dict]) -> None:
    from depscreen.table_models import AVEC_ANCHORS

    cfg, summary = regressed
    for model in REG_MODELS:
        assert run_dir(cfg, model, 0) == cfg.out / "runs" / model / "regression-seed0"
        assert (run_dir(cfg, model, 0) / "eval-test" / "metrics.json").is_file()
    table = pd.read_csv(cfg.out / "table_regression.csv")
    n = len(REG_MODELS)
    assert table["kind"].tolist() == ["model"] * n + ["naive"] * 2 + ["published"] * 3
    assert table["model"].tolist()[:n] == REG_MODELS
    assert table["name"].tolist()[n:n + 2] == ["Naive: train mean", "Naive: train median"]
    for row in table[table["kind"] == "model"].itertuples():
        metrics = json.loads((run_dir(cfg, row.model, 0) / "eval-test" / "metrics.json")
                             .read_text())
        assert metrics["task"] == "regression"
        assert row.rmse_mean == pytest.approx(metrics["regression"]["rmse"], abs=1e-3)
        assert row.rmse_ci_low <= row.rmse_ci_high and row.ccc_ci_low <= row.ccc_ci_high
        assert 0 <= row.screen_ua_mean <= 100
        naive = metrics["naive"]["train mean"]["rmse"]
        assert table.loc[table["model"] == "train-mean", "rmse_mean"].item() == \
            pytest.approx(naive, abs=1e-3)
    anchors = table[table["kind"] == "published"].set_index("model")
    assert anchors.loc["avec2017-winner", "rmse_mean"] == 4.94
    assert anchors.loc["avec2017-winner", "mae_mean"] == 4.11
    assert anchors.loc["avec2019-winner", "ccc_mean"] == 0.67
    assert anchors.loc["avec2019-baseline", "ccc_mean"] == 0.12
    assert anchors.loc["avec2017-winner", "note"] == "published, same corpus"  # --corpus daic-woz
    assert anchors.loc["avec2019-winner", "note"] == "published, E-DAIC"

    md = (cfg.out / "table_regression.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 1 + len(REG_MODELS) + 2 + len(AVEC_ANCHORS)
    assert rows[1].startswith(f"| {TABLE_MODELS['lstm-cnn-text'][0]} |") and "±" in rows[1]
    assert any(ln.startswith("| Naive: train median |") for ln in rows)
    for name in ("regression_scatter.png", "regression_residuals.png"):
        assert (cfg.out / name).read_bytes().startswith(PNG)
    on_disk = json.loads((cfg.out / "summary_regression.json").read_text())
    assert on_disk["task"] == summary["task"] == "regression"
    assert on_disk["figure_model"]["model"] in REG_MODELS
    page = (cfg.out / "report.html").read_text(encoding="utf-8")
    assert "PHQ-8 score (Table II)" in page and "chosen on dev" in page
    assert "<h2>Table I</h2>" not in page


def test_anchor_notes() -> None:
    from depscreen.evaluation.report_regression import anchor_note

    assert anchor_note("synthetic", "daic-woz") == "published, another corpus (not comparable)"
    assert anchor_note("manifest", "edaic") == "published, another corpus (not comparable)"
    assert anchor_note("edaic", "edaic") == "published, same corpus"
    assert anchor_note("edaic", "daic-woz") == "published, DAIC-WOZ"


def test_regression_default_models_and_unsupported_model(tmp_path: Path) -> None:
    from depscreen.errors import DepscreenError
    from depscreen.table_models import BASELINE_MODELS

    cfg = ReproduceConfig(out=tmp_path / "out", task="regression")
    # Every table and baseline model has a regression head (decision-level ones weight
    # their sub-models' estimates).
    assert set(cfg.models) == set(TABLE_MODELS) | set(BASELINE_MODELS)
    items = ReproduceConfig(out=tmp_path / "out", task="items")
    assert "decision-fusion" not in items.models and "tfidf-lr" not in items.models
    assert set(TABLE_MODELS) - {"decision-fusion"} == set(items.models)
    assert ReproduceConfig(out=tmp_path).models == list(TABLE_MODELS)  # binary: as before
    bad = dataclasses.replace(items, models=["decision-fusion", "tfidf-lr"])
    with pytest.raises(DepscreenError) as err:
        reproduce(bad, progress=False)
    message = str(err.value)
    assert "\n" not in message and "decision-fusion" in message and "--task items" in message
    assert "lstm-cnn-text" in message.split("can:")[1] and "tfidf-lr" not in message.split("can:")[1]
    assert not (tmp_path / "out").exists()


def test_binary_beside_regression_in_one_out(regressed: tuple[ReproduceConfig, dict]) -> None:
    """A binary reproduce into the same --out leaves Table II and its runs alone, and the
    report shows both tables."""
    cfg, _ = regressed
    table_ii = (cfg.out / "table_regression.csv").read_text()
    done = {m: (run_dir(cfg, m, 0) / "done.json").stat().st_mtime_ns for m in REG_MODELS}
    binary = dataclasses.replace(cfg, task="binary", models=["tfidf-lr"])
    assert run_dir(binary, "tfidf-lr", 0) == cfg.out / "runs" / "tfidf-lr" / "seed0"
    reproduce(binary, progress=False)
    assert (cfg.out / "table_regression.csv").read_text() == table_ii
    assert {m: (run_dir(cfg, m, 0) / "done.json").stat().st_mtime_ns for m in REG_MODELS} == done
    assert pd.read_csv(cfg.out / "table.csv")["model"].tolist() == ["tfidf-lr"] * 2
    assert json.loads((cfg.out / "summary.json").read_text())["task"] == "binary"
    page = (cfg.out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Table I</h2>" in page and "PHQ-8 score (Table II)" in page
    assert "Tables I and II" in page


def _choices(cfg: ReproduceConfig) -> dict:
    """Everything the regression path chooses: per run its best epoch, dev numbers, fitted
    C/alpha, dev predictions and score aggregation; the model the figures show."""
    out: dict = {"figure_model": json.loads((cfg.out / "summary_regression.json").read_text())
                 ["figure_model"]}
    for model in REG_MODELS:
        run = run_dir(cfg, model, 0)
        test = json.loads((run / "eval-test" / "metrics.json").read_text())
        out[model] = {
            "done": json.loads((run / "done.json").read_text()),
            "fit": (run / "fit.json").read_text() if (run / "fit.json").is_file() else None,
            "dev": (run / "dev_predictions.csv").read_text(),
            "aggregation": (test["score_aggregation"],
                            test["dev_participant_rmse_by_aggregation"]),
        }
    return out


def test_regression_never_chooses_on_test(regressed: tuple[ReproduceConfig, dict], tiny: Tiny,
                                          tmp_path: Path) -> None:
    """The same reproduce on a copy of the corpus whose test scores are changed (24 - score)
    makes every choice the same; only the test metrics move."""
    import csv
    import shutil

    cfg, _ = regressed
    root = tmp_path / "root"
    shutil.copytree(tiny.root, root)
    path = root / "full_test_split.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["PHQ_Score"] = str(24 - int(r["PHQ_Score"]))
        r["PHQ_Binary"] = str(int(int(r["PHQ_Score"]) >= 10))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    other = _regression_cfg(root, tmp_path / "out")
    reproduce(other, progress=False)
    assert _choices(other) == _choices(cfg)
    before = pd.read_csv(cfg.out / "table_regression.csv").set_index("model")
    after = pd.read_csv(other.out / "table_regression.csv").set_index("model")
    assert (before.loc[REG_MODELS, "rmse_mean"] != after.loc[REG_MODELS, "rmse_mean"]).any()


def test_cli_task_option(cli, tmp_path: Path) -> None:
    code, stdout, _ = cli("reproduce", "--help")
    assert code == 0 and "--task" in stdout
    code, _, stderr = cli("reproduce", "--task", "items", "--models", "decision-fusion",
                          "--out", tmp_path / "out")
    assert code != 0
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "decision-fusion" in lines[0] and "lstm-cnn-text" in lines[0]
    assert not (tmp_path / "out").exists()


def test_items_task_reports_the_mae_of_each_item(tiny: Tiny, tmp_path: Path) -> None:
    from depscreen.corpora.records import PHQ8_ITEMS

    cfg = ReproduceConfig(corpus="daic-woz", root=tiny.root, out=tmp_path / "items", seeds=1,
                          models=["lstm-cnn-text"], task="items",
                          train_overrides=REG_OVERRIDES, jobs=1, n_boot=20)
    reproduce(cfg, progress=False)
    per_item = pd.read_csv(cfg.out / "table_items_per_item.csv")
    assert "dev" in per_item["split"].tolist()  # DAIC-WOZ test labels carry no items
    dev = per_item[per_item["split"] == "dev"].iloc[0]
    assert all(0 <= dev[f"{item}_mean"] <= 3 for item in PHQ8_ITEMS)
    assert "PHQ-8 items: mean absolute error per item" in (cfg.out / "report.html").read_text()


def test_reproduce_with_the_interviewers_turns(tiny: Tiny, tmp_path: Path) -> None:
    cfg = ReproduceConfig(corpus="daic-woz", root=tiny.root, out=tmp_path / "ellie", seeds=1,
                          models=["tfidf-lr"], source="interviewer",
                          train_overrides=REG_OVERRIDES, jobs=1, n_boot=20)
    reproduce(cfg, progress=False)
    run = run_dir(cfg, "tfidf-lr", 0)
    assert run == cfg.out / "runs" / "tfidf-lr" / "interviewer-seed0"
    assert json.loads((run / "config.json").read_text())["train"]["source"] == "interviewer"
    assert (cfg.out / "table.csv").is_file()
