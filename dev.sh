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

# The browser tests (tests/view) drive Debian's chromium through its chromedriver, offline.
# Installed here when missing and we are root with apt-get; otherwise those tests fail and
# say what to install (they never skip).
browser() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        return
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "dev.sh: installing Debian's chromium and chromium-driver for the browser tests" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq chromium chromium-driver >/dev/null) \
            || echo "dev.sh: could not install chromium; the browser tests will fail" >&2
    else
        echo "dev.sh: chromium/chromedriver missing and not root: the browser tests will fail" >&2
    fi
}

case "${1:-}" in
    main)
        venv
        shift
        .venv/bin/depscreen reproduce --out runs/reproduce "$@"
        ;;
    test)
        venv
        browser
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
