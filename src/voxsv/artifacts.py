"""Where every artifact of the workflow lives (the rules' output patterns) and which artifacts
an experiment needs: the one place that spells these paths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from voxsv.experiments import Experiment

RECORDINGS = "data/manifests/{corpus}_recordings.jsonl.gz"
SUPERVISIONS = "data/manifests/{corpus}_supervisions.jsonl.gz"
TRIALS_CHECKED = "data/manifests/trials_checked.tsv"
PLAN = "data/augment/{corpus}/{variant}/shard{shard}.jsonl.gz"
FBANK = "data/fbank/{bins}/{corpus}/{variant}/shard{shard}"  # + .jsonl.gz and .lca
FBANK_MANIFEST = f"{FBANK}.jsonl.gz"
FBANK_ARCHIVE = f"{FBANK}.lca"
VOX1_FBANK_MANIFEST = "data/fbank/{bins}/vox1/{variant}/shard{shard}.jsonl.gz"
VOX1DEV_SUBSET = "data/fbank/{bins}/vox1dev/{variant}/shard{shard}.jsonl.gz"
CROPS = "data/crops/{bins}/{corpus}/{variant}/shard{shard}"  # + .jsonl.gz and .npy
CROPS_MANIFEST = f"{CROPS}.jsonl.gz"
CROPS_ROWS = f"{CROPS}.npy"
MODEL = "exp/{alias}/{stage}/model.pt"
ONNX = "exp/{alias}/{stage}/model.onnx"
EMBEDDINGS = "exp/{alias}/{stage}/embeddings/{part}/shard{shard}.npz"
COHORT = "exp/{alias}/{stage}/embeddings/cohort.npz"
SCORES = "exp/{alias}/{stage}/scores/{scoring}_{trials}.txt"
STATS = "exp/{alias}/{stage}/scores/{scoring}_stats.npz"  # AS-norm cohort statistics
RESULT = "results/{alias}_{stage}_{scoring}.tsv"
DET = "results/det/{alias}.png"
BASELINE = "results/baseline_mean_fbank.tsv"  # voxsv.baseline, in the result tables' format
SUMMARY = ("results/summary.tsv", "results/summary.md")
FEATURE_CORPORA = ("vox2dev", "vox1")  # FBANK is computed for these; vox1dev is a subset
TRAIN_CORPORA = ("vox2dev", "vox1dev")  # training sets (crop stores)
SHARDS_KEY = {"vox2dev": "num_shards", "vox1": "eval_shards", "vox1dev": "eval_shards"}


def shards(data: Mapping[str, Any], corpus: str) -> range:
    """Shard indices of a corpus's FBANK archives and augmentation plans."""
    return range(data[SHARDS_KEY[corpus]])


def fbank_files(bins: int, corpus: str, variant: str, shard: int) -> list[str]:
    """An FBANK archive's manifest and .lca (both, so a lost .lca is rebuilt)."""
    stem = FBANK.format(bins=bins, corpus=corpus, variant=variant, shard=shard)
    return [f"{stem}.jsonl.gz", f"{stem}.lca"]


def training_fbank(bins: int, corpus: str, variant: str, shard: int) -> list[str]:
    """A training shard's FBANK manifest and the lilcom archive it points into (for VoxCeleb1
    dev, a speaker subset of the VoxCeleb1 archive)."""
    if corpus == "vox1dev":
        subset = VOX1DEV_SUBSET.format(bins=bins, variant=variant, shard=shard)
        return [subset, fbank_files(bins, "vox1", variant, shard)[1]]
    return fbank_files(bins, corpus, variant, shard)


def crop_store_files(bins: int, corpus: str, variant: str, shard: int) -> list[str]:
    """A training shard's crop store: its manifest and rows."""
    stem = CROPS.format(bins=bins, corpus=corpus, variant=variant, shard=shard)
    return [f"{stem}.jsonl.gz", f"{stem}.npy"]


def train_archives(data: Mapping[str, Any], exp: Experiment, stage: str) -> list[str]:
    """The files a stage trains on, every shard of each of its copies: crop stores, or the
    FBANK archives with `data.crop_store: lilcom`."""
    files = training_fbank if data["crop_store"] == "lilcom" else crop_store_files
    return [path for variant in exp.stage(stage)["copies"]
            for shard in shards(data, exp.feature_corpus)
            for path in files(exp.num_mel_bins, exp.feature_corpus, variant, shard)]


def embedding_shards(data: Mapping[str, Any], alias: str, stage: str, part: str) -> list[str]:
    """The embedding stores of one model, stage and part (vox1 or cohort): one per VoxCeleb1
    shard, so both parts take as many jobs (fewer jobs to plan than one per cohort shard)."""
    return [EMBEDDINGS.format(alias=alias, stage=stage, part=part, shard=i)
            for i in shards(data, "vox1")]


def embed_features(data: Mapping[str, Any], exp: Experiment, part: str, job: int) -> list[str]:
    """The FBANK manifests embedding job `job` reads: VoxCeleb1 shard `job`, or the clean
    VoxCeleb2-dev shards (the AS-norm cohort) whose index is `job` modulo the job count."""
    corpus = "vox1" if part == "vox1" else "vox2dev"
    jobs = len(shards(data, "vox1"))
    return [fbank_files(exp.num_mel_bins, corpus, "clean", shard)[0]
            for shard in shards(data, corpus) if shard % jobs == job]


def baseline_features(data: Mapping[str, Any], bins: int) -> list[str]:
    """The FBANK manifests that the mean-FBANK baseline reads: every clean VoxCeleb1 shard."""
    return [VOX1_FBANK_MANIFEST.format(bins=bins, variant="clean", shard=shard)
            for shard in shards(data, "vox1")]


def result_tables(exp: Experiment) -> list[str]:
    """Every result table of an experiment: each stage and scoring method."""
    return [RESULT.format(alias=exp.alias, stage=stage, scoring=scoring)
            for stage in exp.stages for scoring in exp.scoring["methods"]]


def experiment_targets(exp: Experiment) -> list[str]:
    """Result tables, exported models and the DET plot of one experiment."""
    onnx = [ONNX.format(alias=exp.alias, stage=stage) for stage in exp.stages]
    return result_tables(exp) + onnx + [DET.format(alias=exp.alias)]


def valid_targets(experiments: Mapping[str, Experiment]) -> str:
    """Every result table the configuration can build, in brace notation on one line."""
    def braces(names: Iterable[str]) -> str:
        names = list(names)
        return names[0] if len(names) == 1 else "{" + ",".join(names) + "}"

    return ", ".join(
        f"results/{exp.alias}_{braces(exp.stages)}_{braces(exp.scoring['methods'])}.tsv"
        for exp in experiments.values()
    )


def unknown_targets(targets: Iterable[str], experiments: Mapping[str, Experiment]) -> list[str]:
    """Requested result tables (results/*.tsv) that no configured experiment makes."""
    known = {path for exp in experiments.values() for path in result_tables(exp)}
    known.update((SUMMARY[0], BASELINE))
    return [t for t in targets if re.fullmatch(r"results/[^/]+\.tsv", t) and t not in known]
