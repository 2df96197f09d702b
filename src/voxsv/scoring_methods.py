"""The scoring methods by name and the inputs each needs, so the workflow and the CLI read one
registry instead of testing method names.

Input kinds (what a rule must give a step of a method):
- `embeddings`: the evaluation embeddings (exp/{alias}/{stage}/embeddings/vox1/shard*.npz);
- `cohort_embeddings`: the AS-norm cohort store, per-speaker means of the L2-normalised clean
  VoxCeleb2-dev embeddings (exp/{alias}/{stage}/embeddings/cohort.npz, rule cohort);
- `head_weights`: the trained model (exp/{alias}/{stage}/model.pt), whose classifier weight
  vectors are the cohort;
- `cohort_stats`: per evaluation utterance, mean and std of its top-k cohort scores
  (exp/{alias}/{stage}/scores/{method}_stats.npz, rule asnorm_stats), computed once per model,
  stage and method and shared by every trial list.
A normalised method's score step needs `embeddings` and `cohort_stats`; its stats step needs
`embeddings` and the method's cohort kind. Cosine scoring needs `embeddings` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

EMBEDDINGS = "embeddings"
COHORT_EMBEDDINGS = "cohort_embeddings"
HEAD_WEIGHTS = "head_weights"
COHORT_STATS = "cohort_stats"


@dataclass(frozen=True)
class ScoringMethod:
    """One scoring back-end: its name, its AS-norm cohort kind (None: plain cosine), a summary."""

    name: str
    cohort: str | None
    summary: str

    @property
    def normalised(self) -> bool:
        """Whether scores are AS-normalised (and so need cohort statistics)."""
        return self.cohort is not None


METHODS: dict[str, ScoringMethod] = {
    m.name: m
    for m in (
        ScoringMethod("cosine", None, "cosine of L2-normalised embeddings"),
        ScoringMethod(
            "asnorm", COHORT_EMBEDDINGS, "AS-norm, cohort: per-speaker means of clean embeddings"
        ),
        ScoringMethod(
            "asnorm_head", HEAD_WEIGHTS, "AS-norm, cohort: the classifier's weight vectors"
        ),
    )
}


def get_method(name: str) -> ScoringMethod:
    """The registered method `name`; an unknown name is an error listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown scoring method {name!r}; known: {sorted(METHODS)}") from None


def score_inputs(name: str) -> tuple[str, ...]:
    """Input kinds of the score step of method `name` (besides the trial list)."""
    return (EMBEDDINGS, COHORT_STATS) if get_method(name).normalised else (EMBEDDINGS,)


def stats_inputs(name: str) -> tuple[str, ...]:
    """Input kinds of the cohort-statistics step of `name`; empty for an unnormalised method."""
    method = get_method(name)
    return (EMBEDDINGS, method.cohort) if method.cohort else ()


def load_cohort(kind: str, path: str | os.PathLike) -> np.ndarray:
    """The C x D cohort vectors of a cohort input of `kind`, as AS-norm uses them."""
    from voxsv.scoring import head_cohort, load_embeddings

    if kind == COHORT_EMBEDDINGS:
        return load_embeddings(path)[1]
    if kind == HEAD_WEIGHTS:
        return head_cohort(path)
    raise ValueError(f"{kind!r} is not a cohort kind ({COHORT_EMBEDDINGS}, {HEAD_WEIGHTS})")
