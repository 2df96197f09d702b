# Helpers shared by the stage files (config validation, target lists, input functions).
# Only this file defines Python helpers; the stage files declare rules.

import copy
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


validate(config, schema="../config/schema.yaml")


def check_generated_paths():
    """With `corpus.generate`, `paths` and `trials` must name the generated corpus's files."""
    root = config["corpus"]["root"]
    expected = {
        ("paths", "voxceleb1"): f"{root}/voxceleb1/wav",
        ("paths", "voxceleb2_dev"): f"{root}/voxceleb2/dev/aac",
        ("paths", "musan"): f"{root}/musan",
        ("paths", "rirs"): f"{root}/RIRS_NOISES",
        ("trials", "O"): f"{root}/voxceleb1/veri_test2.txt",
        ("trials", "E"): f"{root}/voxceleb1/list_test_all2.txt",
        ("trials", "H"): f"{root}/voxceleb1/list_test_hard2.txt",
    }
    for (section, key), path in expected.items():
        given = config[section].get(key)
        if given is not None and Path(given) != Path(path):
            raise ValueError(
                f"config {section}.{key} is {given!r}, but corpus.generate writes {path!r} "
                f"(corpus.root is {root!r}): set {section}.{key} to it or corpus.generate: false"
            )


if config["corpus"]["generate"]:
    check_generated_paths()

ENV = "../envs/voxsv.yaml"


def default_targets():
    """Every final output of the configured recipe (extended stage by stage)."""
    targets = [config["trials"][name] for name in config["trials"]]
    targets += fbank_targets() + [TRIALS_CHECKED]
    targets += train_targets()
    targets += evaluation_targets()
    return targets


# ---- Data stage (rules/corpus.smk manifests, rules/augment.smk, rules/features.smk) --------

TRIALS_CHECKED = "data/manifests/trials_checked.tsv"
MUSAN_PART = {"noise": "noise", "music": "music", "babble": "speech"}


def augment_sources(copy):
    """Recording manifests that an augmented copy draws from, keyed as voxsv.augment expects."""
    if copy == "reverb":
        rooms = config["data"]["augment"]["reverb"]["rooms"]
        return {room: f"data/manifests/rirs_{room}_recordings.jsonl.gz" for room in rooms}
    return {copy: f"data/manifests/musan_{MUSAN_PART[copy]}_recordings.jsonl.gz"}


def augment_plan_input(wildcards):
    """The augmentation plan that an FBANK job applies (none for the clean copy)."""
    if wildcards.variant == "clean":
        return []
    return f"data/augment/{wildcards.variant}/shard{wildcards.shard}.jsonl.gz"


def fbank_targets():
    """Every FBANK archive (manifest and .lca, so a lost .lca is rebuilt): each training copy
    and shard, and each VoxCeleb1 shard."""
    data = config["data"]
    train = expand(
        "data/fbank/vox2dev/{copy}/shard{shard}.{ext}",
        copy=data["copies"],
        shard=range(data["num_shards"]),
        ext=("jsonl.gz", "lca"),
    )
    evaluation = expand(
        "data/fbank/vox1/shard{shard}.{ext}",
        shard=range(data["eval_shards"]),
        ext=("jsonl.gz", "lca"),
    )
    return train + evaluation


# ---- Training (rules/train.smk) -------------------------------------------------------------

TRAIN_STAGES = ("pretrain", "lmft")


def train_targets():
    """Both stages' final checkpoints of every configured model."""
    return [f"exp/{alias}/{stage}/model.pt" for alias in config["models"] for stage in TRAIN_STAGES]


def stage_config(alias, stage):
    """A model's settings for one training stage: train.{stage} with the model's overrides."""
    overrides = config["train"].get("model_overrides", {}).get(alias, {})
    return {**config["train"][stage], **overrides.get(stage, {})}


def check_model_overrides():
    """Every override names a configured model, and the merged stage is a valid stage."""
    for alias, stages in config["train"].get("model_overrides", {}).items():
        if alias not in config["models"]:
            raise ValueError(f"config train.model_overrides.{alias}: no model {alias!r} in models")
        for stage in stages:
            merged = copy.deepcopy(config)
            merged["train"][stage] = stage_config(alias, stage)
            try:
                validate(merged, schema="../config/schema.yaml")
            except WorkflowError as e:
                raise WorkflowError(f"config train.model_overrides.{alias}.{stage}:", e)


check_model_overrides()


def train_archives(alias, stage):
    """The FBANK manifests a stage trains on: every shard of each of its copies."""
    copies = stage_config(alias, stage)["copies"]
    shards = range(config["data"]["num_shards"])
    return [
        f"data/fbank/vox2dev/{c}/shard{i}.{ext}"
        for c in copies
        for i in shards
        for ext in ("jsonl.gz", "lca")
    ]


def train_init(wildcards):
    """LMFT starts from the pre-trained checkpoint; pre-training from scratch."""
    return [f"exp/{wildcards.alias}/pretrain/model.pt"] if wildcards.stage == "lmft" else []


def train_world_size(alias, stage):
    """Processes of a stage: its GPUs, or its CPU processes when it has none."""
    cfg = stage_config(alias, stage)
    return cfg["gpus"] if cfg["gpus"] > 0 else cfg["cpu_processes"]


def train_settings(wildcards, input, output):
    """The JSON settings of `python -m voxsv.train` (voxsv.train.settings.RunSettings)."""
    if wildcards.alias not in config["models"]:
        raise ValueError(f"exp/{wildcards.alias}: no model {wildcards.alias!r} in config models")
    return {
        "alias": wildcards.alias,
        "stage": wildcards.stage,
        "model": config["models"][wildcards.alias],
        "num_mel_bins": config["data"]["num_mel_bins"],
        "cmn_window": config["data"]["cmn_window"],
        "train": {
            **config["train"],
            **{stage: stage_config(wildcards.alias, stage) for stage in TRAIN_STAGES},
        },
        "archives": [path for path in input.archives if path.endswith(".jsonl.gz")],
        "init": input.init[0] if input.init else None,
        "run_dir": str(Path(output[0]).parent),
        "out": output[0],
    }


# ---- Export and evaluation (rules/export.smk, rules/evaluate.smk) --------------------------

SCORINGS = tuple(config["scoring"]["methods"])


def embedding_shards(wildcards, part):
    """The per-shard embedding stores of one model, stage and part (vox1 or cohort)."""
    shards = config["data"]["eval_shards" if part == "vox1" else "num_shards"]
    return expand(
        "exp/{alias}/{stage}/embeddings/{part}/shard{shard}.npz",
        alias=wildcards.alias,
        stage=wildcards.stage,
        part=part,
        shard=range(shards),
    )


def embed_features_input(wildcards):
    """The FBANK shard an embedding job reads: VoxCeleb1, or the clean VoxCeleb2-dev copy
    (the AS-norm cohort)."""
    if wildcards.part == "vox1":
        return f"data/fbank/vox1/shard{wildcards.shard}.jsonl.gz"
    return f"data/fbank/vox2dev/clean/shard{wildcards.shard}.jsonl.gz"


def score_inputs(wildcards):
    """A score file's inputs: its trial list, the evaluation embeddings and, for AS-norm,
    the cohort."""
    inputs = {
        "trials": config["trials"][wildcards.trials],
        "checked": TRIALS_CHECKED,
        "embeddings": embedding_shards(wildcards, "vox1"),
    }
    if wildcards.scoring == "asnorm":
        inputs["cohort"] = f"exp/{wildcards.alias}/{wildcards.stage}/embeddings/cohort.npz"
    return inputs


def score_files(wildcards):
    """Score files of every trial list, by trial-list name."""
    return {
        name: f"exp/{wildcards.alias}/{wildcards.stage}/scores/{wildcards.scoring}_{name}.txt"
        for name in config["trials"]
    }


def det_runs(wildcards):
    """Every run of one model for its DET plot: label -> (trial list, score file)."""
    return {
        f"{stage} {scoring}, {name}": (
            config["trials"][name],
            f"exp/{wildcards.alias}/{stage}/scores/{scoring}_{name}.txt",
        )
        for stage in TRAIN_STAGES
        for scoring in SCORINGS
        for name in config["trials"]
    }


def result_sources():
    """Every result table with the configuration that produces it (for the summary)."""
    return [
        {
            "path": f"results/{alias}_{stage}_{scoring}.tsv",
            "alias": alias,
            "arch": spec["arch"],
            "stage": stage,
            "scoring": scoring,
            "num_mel_bins": config["data"]["num_mel_bins"],
        }
        for alias, spec in config["models"].items()
        for stage in TRAIN_STAGES
        for scoring in SCORINGS
    ]


def result_tables():
    """Every result table: results/{alias}_{stage}_{scoring}.tsv."""
    return [source["path"] for source in result_sources()]


def evaluation_targets():
    """Result tables, exported models, DET plots and the summary."""
    return (
        result_tables()
        + [f"exp/{a}/{s}/model.onnx" for a in config["models"] for s in TRAIN_STAGES]
        + [f"results/det/{alias}.png" for alias in config["models"]]
        + ["results/summary.tsv", "results/summary.md"]
    )
