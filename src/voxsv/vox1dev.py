"""The VoxCeleb1-dev training set (SPEC section 1, table 1): every VoxCeleb1 speaker that is
not among the O list's test speakers, as subsets of the VoxCeleb1 FBANK manifests."""

from __future__ import annotations

import os

from lhotse import CutSet

from voxsv.atomic import atomic_path
from voxsv.trials import read_trials, utterance_id


def test_speakers(o_trials: str | os.PathLike) -> set[str]:
    """Speakers of the O list (the first path component of each trial utterance)."""
    trials = read_trials(o_trials)
    return {utterance_id(u).split("/")[0] for u in (*trials.enroll, *trials.test)}


def write_subset(manifest: str | os.PathLike, o_trials: str | os.PathLike,
                 out: str | os.PathLike) -> int:
    """Write the cuts of `manifest` whose speaker is not an O-list speaker; returns their count.

    The subset points at the same feature archive, so nothing is computed twice.
    """
    excluded = test_speakers(o_trials)
    cuts = CutSet.from_file(manifest).filter(
        lambda cut: cut.supervisions[0].speaker not in excluded
    ).to_eager()
    with atomic_path(out, suffix=".jsonl.gz") as tmp:
        cuts.to_file(tmp)
    return len(cuts)
