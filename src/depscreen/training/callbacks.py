"""Lightning callbacks of our own."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd

from depscreen.utils.atomic import atomic_write_text


class EpochCSVLogger(L.Callback):
    """metrics.csv with one row per finished epoch; survives --resume (earlier rows kept)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        row = {"epoch": trainer.current_epoch}
        for key, value in trainer.callback_metrics.items():
            row[key] = float(value)
        rows = []
        if self.path.exists():
            old = pd.read_csv(self.path)
            rows = old[old["epoch"] < trainer.current_epoch].to_dict("records")
        rows.append(row)
        atomic_write_text(self.path, pd.DataFrame(rows).to_csv(index=False))
