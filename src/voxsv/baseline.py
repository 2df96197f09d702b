"""The mean-FBANK cosine baseline: each VoxCeleb1 utterance's mean stored FBANK frame, the
global mean subtracted, scored by cosine on every trial list (no training).

It is the floor that any trained extractor should beat, computed from the clean VoxCeleb1 FBANK
that evaluation already stores; the summary holds each default model to half its O EER.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from lhotse import CutSet

from voxsv.manifests import trial_path
from voxsv.metrics import Metrics, evaluate
from voxsv.results import ordered_lists, p_target_for
from voxsv.scoring import score_trials
from voxsv.trials import read_trials


def mean_fbank(
    manifests: Sequence[str | os.PathLike], corpus_root: str | os.PathLike
) -> tuple[list[str], np.ndarray]:
    """(utterance paths as trial lists write them, mean FBANK frame of each utterance minus the
    mean over all of them) for the cuts of these FBANK manifests."""
    ids, means = [], []
    for manifest in manifests:
        for cut in CutSet.from_file(manifest):
            ids.append(trial_path(cut, corpus_root))
            means.append(cut.load_features().mean(axis=0, dtype=np.float64))
    stacked = np.stack(means)
    return ids, (stacked - stacked.mean(axis=0)).astype(np.float32)


def baseline_metrics(
    trials: Mapping[str, str | os.PathLike],
    manifests: Sequence[str | os.PathLike],
    corpus_root: str | os.PathLike,
) -> dict[str, Metrics]:
    """EER/minDCF of the baseline on each named trial list, in the result tables' order and with
    their minDCF priors."""
    ids, means = mean_fbank(manifests, corpus_root)
    out = {}
    for name in ordered_lists(trials):
        parsed = read_trials(trials[name])
        out[name] = evaluate(score_trials(parsed, ids, means), parsed.labels, p_target_for(name))
    return out
