"""Mistakes that used to end in a traceback get one line naming what is wrong (#13)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Tiny


def _one_line_error(cli_cmd, cli_env, argv) -> str:
    res = subprocess.run([*cli_cmd, *map(str, argv)], env=cli_env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_max_audio_mb_must_be_a_positive_finite_number(value, tiny: Tiny, tmp_path: Path,
                                                       cli_cmd, cli_env) -> None:
    line = _one_line_error(cli_cmd, cli_env, [
        "prepare", "--corpus", "daic-woz", "--root", tiny.root, "--out", tmp_path / "p",
        "--max-audio-mb", value])
    assert "--max-audio-mb must be a positive number of MiB" in line
    assert not (tmp_path / "p").exists()
    line = _one_line_error(cli_cmd, cli_env, [
        "predict", "--model", tmp_path / "none.dsb", "--text", "hello there",
        "--max-audio-mb", value])
    assert "--max-audio-mb must be a positive number of MiB" in line


def test_evaluate_refuses_an_unknown_aggregation(trained_run, cli_cmd, cli_env,
                                                 tmp_path: Path) -> None:
    run = trained_run("tfidf-lr")
    line = _one_line_error(cli_cmd, cli_env, ["evaluate", run, "--aggregation", "median",
                                              "--out", tmp_path / "ev"])
    assert "--aggregation must be one of mean, majority, got 'median'" in line
    assert not (tmp_path / "ev").exists()


def test_evaluate_on_truncated_weights_names_the_file(trained_run, cli_cmd, cli_env,
                                                      tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run("tfidf-lr"), run)
    weights = run / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    line = _one_line_error(cli_cmd, cli_env, ["evaluate", run, "--out", tmp_path / "ev"])
    assert str(weights) in line and "not a readable safetensors file" in line


@pytest.mark.parametrize("name", ["[/x].dsb", "[bold red]m[/].dsb", "a\x1b[31mred.dsb"])
def test_printed_paths_are_shown_as_they_are(name, tmp_path: Path, cli_cmd, cli_env) -> None:
    """Markup in a file name is printed literally, control characters as \\xNN (#13 item 4)."""
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", tmp_path / name,
                                              "--text", "hello there"])
    assert "\x1b" not in line
    assert name.replace("\x1b", "\\x1b") in line
