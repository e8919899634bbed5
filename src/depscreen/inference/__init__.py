"""Inference: apply a trained model to new interviews.

    bundle.py   export a run folder as a portable `.dsb` bundle; `load_model(path)` loads a run
                folder or a bundle (JSON + safetensors only, checksummed, never unpickled)
    predict.py  `predict_interview` (one interview -> JSON-ready dict), `predict_batch`
                (a manifest or a folder -> one row per session)
    asr.py      energy-based speech segments and offline PocketSphinx transcription (`--asr`)

Import the submodules directly; nothing heavy loads from here.
"""
