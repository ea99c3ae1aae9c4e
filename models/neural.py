"""``nhits``: one global Darts NHiTSModel (small: 3 stacks x 1 block, width 64) with quantile loss.

* ``input_chunk_length`` = the longest of ``2 * season_length`` and the extra seasonalities
  (168 for hourly data with weekly seasonality), shrunk to half the median history when that is
  shorter; ``output_chunk_length`` = ``min(2 * season_length, 48)``. Longer horizons are chunked
  (median fed back, spread widened; see :mod:`capplan.models._darts`).
* ``QuantileRegression`` over the configured quantiles (plus 0.5); ``n_epochs = spec.epochs``;
  ``random_state = spec.seed``; ``accelerator="auto"`` (GPU when present, CPU in tests).
* Target only: covariates are ignored by this adapter (``lightgbm`` is the covariate model).
* Series are scaled per series and fed as float32; reversible instance normalisation (RevIN)
  normalises each input window, so the level comes from the window, not from training alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ._common import History
from ._global import GlobalDarts

TRAINER_KWARGS = {
    "accelerator": "auto",
    "enable_progress_bar": False,
    "logger": False,
    "enable_model_summary": False,
    "enable_checkpointing": False,
}


class NHiTS(GlobalDarts):
    """Global N-HiTS with quantile regression."""

    name = "nhits"
    complexity = 3
    native_intervals = True
    dtype = "float32"
    # The most recent windows per series: an epoch over every hourly window of months of history
    # costs minutes on a CPU and adds little over the latest few hundred.
    max_samples_per_ts = 512

    def __init__(self, spec, layer_widths: int = 64, batch_size: int = 128):
        super().__init__(spec)
        self.layer_widths = layer_widths
        self.batch_size = batch_size
        self.icl = 1

    def _layout(self, hists: list[History]) -> None:
        m = max(int(self.spec.season_length), 1)
        self.ocl = max(1, min(2 * m, 48))
        median_n = int(np.median([x.n for x in hists]))
        wanted = max(2 * m, *(int(s) for s in self.spec.seasonalities), 1)
        self.icl = max(1, min(wanted, (median_n - self.ocl) // 2))
        self.min_length = self.icl + self.ocl

    def _make_model(self):
        from darts.models import NHiTSModel
        from darts.utils.likelihood_models.torch import QuantileRegression

        return NHiTSModel(
            input_chunk_length=self.icl,
            output_chunk_length=self.ocl,
            num_stacks=3,
            num_blocks=1,
            num_layers=2,
            layer_widths=self.layer_widths,
            likelihood=QuantileRegression(list(self.model_quantiles)),
            n_epochs=self.spec.epochs,
            batch_size=self.batch_size,
            use_reversible_instance_norm=True,
            random_state=self.spec.seed,
            pl_trainer_kwargs=dict(TRAINER_KWARGS),
        )

    # Darts drops a torch model's network when pickled (it expects save()/load() with a separate
    # checkpoint). The registry stores fitted champions by pickling, so carry the saved files.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        model = state.get("_model")
        state["_model"] = None
        if model is not None:
            with tempfile.TemporaryDirectory() as tmp:
                model.save(os.path.join(tmp, "nhits.pt"))
                state["_model_files"] = {n: Path(tmp, n).read_bytes() for n in os.listdir(tmp)}
        return state

    def __setstate__(self, state: dict) -> None:
        files = state.pop("_model_files", None)
        self.__dict__.update(state)
        if files:
            from darts.models import NHiTSModel

            with tempfile.TemporaryDirectory() as tmp:
                for name, blob in files.items():
                    with open(os.path.join(tmp, name), "wb") as fh:
                        fh.write(blob)
                trainer = {**TRAINER_KWARGS, "accelerator": "auto"}
                self._model = NHiTSModel.load(
                    os.path.join(tmp, "nhits.pt"), pl_trainer_kwargs=trainer, map_location="cpu"
                )
