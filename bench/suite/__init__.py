"""The depscreen benchmark suite (issue #6); `bench/run.py` is its entry point.

Modules: `common` (machine facts, medians, a child-process runner that measures peak
memory), `data` (the synthetic corpora and the interview the stages run on) and `stages`
(each measurement, run in a fresh process by `run.py`).
"""
