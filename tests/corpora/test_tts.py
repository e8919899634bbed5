"""The eSpeak NG engine the synthetic corpus speaks with (tts.py)."""

from __future__ import annotations

import numpy as np


def test_espeak_speaks_at_16k_and_rate_controls_duration():
    from depscreen.corpora.tts import get_engine

    engine = get_engine()
    fast = engine.synthesize("how are you doing today", "en-us+m3", rate=220)
    slow = engine.synthesize("how are you doing today", "en-us+m3", rate=110)
    assert fast.dtype == np.float32 and 0.5 < fast.size / 16000 < 3.0
    assert slow.size > 1.5 * fast.size
    assert 0.01 < np.sqrt(np.mean(fast**2)) < 0.5
