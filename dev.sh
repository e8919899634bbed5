#!/usr/bin/env bash
# One entry point for a fresh machine with only Python 3.11 and pip:
#   bash dev.sh main   -> creates .venv, installs depscreen, reproduces Table I on the
#                         embedded synthetic corpus (depscreen reproduce)
#   bash dev.sh test   -> creates .venv, installs depscreen + test tools, runs the suite
#   bash dev.sh bench  -> creates .venv, runs the benchmark suite (bench/run.py), writes
#                         bench/results.json + bench/results.md and the README's table;
#                         with arguments (e.g. --quick, --only logmel) they go to bench/run.py
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PY" -m venv .venv
    fi
    # pip (not uv/poetry) so the CPU torch wheel on disk satisfies torch>=2.4,<2.14.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
}

case "${1:-}" in
    main)
        venv
        shift
        .venv/bin/depscreen reproduce --out runs/reproduce "$@"
        ;;
    test)
        venv
        shift
        .venv/bin/python -m pytest -q "$@"
        ;;
    bench)
        venv
        shift
        if [ "$#" -eq 0 ]; then
            set -- --update-readme
        fi
        .venv/bin/python bench/run.py "$@"
        ;;
    lint)
        venv
        .venv/bin/ruff check src tests bench
        ;;
    *)
        echo "usage: bash dev.sh {main|test|bench|lint} [extra args]" >&2
        exit 2
        ;;
esac
