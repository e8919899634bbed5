"""The command line: help for every command; a user's mistake is one `error:` line, exit 1,
no traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from depscreen import __version__
from depscreen.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)
runner = CliRunner()


def test_top_level_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert {"synth", "prepare", "train", "evaluate", "reproduce"} <= set(COMMANDS)
    for name in COMMANDS:
        assert name in result.output
    assert "not a diagnostic device" in " ".join(result.output.split())


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"depscreen {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_subcommand_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"depscreen {command}" in result.output or f"{command} [OPTIONS]" in result.output
    assert "--help" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["prepare", "--corpus", "daic-woz", "--root", "/nonexistent/daic",
          "--out", "{tmp}/prepared"], ["/nonexistent/daic", "does not exist"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "bilstm-text",
          "--out", "{tmp}/run", "--batch-size", "0"], ["batch_size", ">= 1"]),
        (["evaluate", "{tmp}"], ["{tmp}", "not a finished run"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "lstm-speech",
          "--out", "{tmp}/run", "--model-config", "{pooling: mean}"],
         ["--model-config", "not valid JSON"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "lstm-speech",
          "--out", "{tmp}/run", "--speech-features", "mfcc"],
         ["--speech-features 'mfcc'", "logmel, egemaps, ssl:PATH"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "lstm-speech",
          "--out", "{tmp}/run", "--speech-features", "ssl"], ["ssl:PATH"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "lstm-cnn-text",
          "--out", "{tmp}/run", "--text-features", "bert"], ["tokens, minilm, hf:PATH"]),
        (["train", "--prepared", "{tmp}/prepared", "--model", "lstm-speech",
          "--out", "{tmp}/run", "--feature-norm", "global"], ["feature_norm", "speaker"]),
    ],
    ids=["prepare-missing-root", "train-bad-batch-size", "evaluate-not-a-run",
         "train-bad-model-config", "train-unknown-speech-features", "train-ssl-without-path",
         "train-unknown-text-features", "train-unknown-feature-norm"],
)
def test_user_error_is_one_line_without_traceback(
    args: list[str], expected: list[str], tmp_path: Path, cli_cmd: list[str],
    cli_env: dict[str, str],
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = subprocess.run([*cli_cmd, *argv], env=cli_env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text.replace("{tmp}", str(tmp_path)) in lines[0]
    assert not (tmp_path / "prepared").exists() and not (tmp_path / "run").exists()


def test_models_lists_what_each_model_declares(cli) -> None:
    code, out, _ = cli("models", "--json")
    assert code == 0
    data = json.loads(out)
    by_name = {m["name"]: m for m in data["models"]}
    assert {"bilstm-cnn-fusion", "decision-fusion", "egemaps-lr"} <= set(by_name)
    assert by_name["bilstm-cnn-fusion"]["fusion"] == "feature"
    assert by_name["decision-fusion"]["carries_calibration"] is True
    assert by_name["stacked-fusion"]["default_features"]["speech"] == "egemaps"
    assert "ssl:PATH" in data["speech_features"] and "minilm" in data["text_features"]
    code, out, _ = cli("models")
    assert code == 0 and "lstm-cnn-text" in out
