# Helpers shared by the stage files: the loaded configuration, the experiments, and thin input
# and params functions over voxsv.experiments / voxsv.artifacts (the logic lives there). Only
# this file defines Python helpers; the stage files declare rules.

import sys
from pathlib import Path

from voxsv import artifacts
from voxsv.configuration import ConfigError, load, load_schema
from voxsv.experiments import TRAIN_STAGES, resolve, stable, train_params
from voxsv import scoring_methods
from voxsv.results import experiment_sources, ordered_lists, published_eer


def command_line_targets():
    """The targets on snakemake's command line (not known to the workflow while it is parsed)."""
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(sys.argv[1:])
    except SystemExit:  # not snakemake's command line (an API call): nothing to check
        return []
    return args.targets or []


SCHEMA_PATH = Path(workflow.basedir) / "config" / "schema.yaml"
SCHEMA = load_schema(SCHEMA_PATH)
try:
    _loaded = load(config, SCHEMA_PATH)
except ConfigError as error:
    sys.exit(f"voxsv: {error}")
config.clear()
config.update(_loaded)
EXPERIMENTS = resolve(config)
ENV = "../envs/voxsv.yaml"
MUSAN_PART = {"noise": "noise", "music": "music", "babble": "speech"}
BINS = sorted({exp.num_mel_bins for exp in EXPERIMENTS.values()})
SCORINGS = sorted({m for exp in EXPERIMENTS.values() for m in exp.scoring["methods"]})


_unknown = artifacts.unknown_targets(command_line_targets(), EXPERIMENTS)
if _unknown:
    sys.exit(
        f"voxsv: {' '.join(_unknown)}: no configured experiment makes this table; valid "
        f"targets: {artifacts.valid_targets(EXPERIMENTS)}"
    )


def experiment(alias):
    """The experiment of an alias (wildcard constraints admit configured aliases only)."""
    return EXPERIMENTS[alias]


def default_targets():
    """Every final output of the default models, the data checks and the summary."""
    targets = [config["trials"][name] for name in config["trials"]]
    targets.append(artifacts.TRIALS_CHECKED)
    for alias in config["default_models"]:
        targets += artifacts.experiment_targets(EXPERIMENTS[alias])
    return targets + list(artifacts.SUMMARY)


# ---- Data stage (rules/corpus.smk, rules/augment.smk, rules/features.smk) -----------------


def augment_sources(variant):
    """Recording manifests that an augmented copy draws from, keyed as voxsv.augment expects."""
    if variant == "reverb":
        rooms = config["data"]["augment"]["reverb"]["rooms"]
        return {room: f"data/manifests/rirs_{room}_recordings.jsonl.gz" for room in rooms}
    return {variant: f"data/manifests/musan_{MUSAN_PART[variant]}_recordings.jsonl.gz"}


def augment_plan_input(wildcards):
    """The augmentation plan that an FBANK job applies (none for the clean copy)."""
    if wildcards.variant == "clean":
        return []
    return artifacts.PLAN.format(**wildcards)


def fbank_params(wildcards):
    """What an FBANK archive depends on (voxsv.featurize.options_from_config)."""
    data = config["data"]
    return {
        "num_mel_bins": int(wildcards.bins),
        **{key: data[key] for key in ("dither", "seed", "on_bad_audio")},
    }


def num_shards(wildcards):
    """Shards of a corpus's archives and plans."""
    return len(artifacts.shards(config["data"], wildcards.corpus))


def crop_store_input(wildcards):
    """The FBANK manifest and lilcom archive that a crop store is written from."""
    manifest, archive = artifacts.training_fbank(
        int(wildcards.bins), wildcards.corpus, wildcards.variant, int(wildcards.shard)
    )
    return {"manifest": manifest, "archive": archive}


# ---- Training (rules/train.smk) -------------------------------------------------------------


def stage_config(wildcards):
    """One experiment's settings for one training stage."""
    return experiment(wildcards.alias).stage(wildcards.stage)


def train_archives(wildcards):
    """The crop stores (or FBANK archives) a stage trains on."""
    return artifacts.train_archives(config["data"], experiment(wildcards.alias), wildcards.stage)


def train_init(wildcards):
    """LMFT starts from the pre-trained checkpoint; pre-training from scratch."""
    if wildcards.stage == "lmft":
        return [artifacts.MODEL.format(alias=wildcards.alias, stage="pretrain")]
    return []


def train_rule_params(wildcards):
    """What a training stage's result depends on (resources, workers, logging excluded)."""
    return train_params(config, SCHEMA, experiment(wildcards.alias), wildcards.stage)


def stage_resource(key):
    """A resource of a training stage (threads, memory, runtime), read when a job is made."""
    return lambda wildcards: stage_config(wildcards)["resources"][key]


# ---- Export and evaluation (rules/export.smk, rules/evaluate.smk) --------------------------


def embedding_shards(wildcards, part):
    """The per-shard embedding stores of one model, stage and part (vox1 or cohort)."""
    return artifacts.embedding_shards(config["data"], wildcards.alias, wildcards.stage, part)


def embed_features_input(wildcards):
    """The FBANK manifests an embedding job reads."""
    return artifacts.embed_features(
        config["data"], experiment(wildcards.alias), wildcards.part, int(wildcards.shard)
    )


def export_features_input(wildcards):
    """The first VoxCeleb1 FBANK shard, at the model's bins (the export check's utterances)."""
    return artifacts.fbank_files(experiment(wildcards.alias).num_mel_bins, "vox1", "clean", 0)[0]


def experiment_scoring(wildcards, key):
    """A scoring setting of one experiment (its own value or the top-level one)."""
    return experiment(wildcards.alias).scoring[key]


def method_inputs(wildcards, kinds):
    """The files of the input kinds that voxsv.scoring_methods names for a step of a method."""
    paths = {
        scoring_methods.EMBEDDINGS: embedding_shards(wildcards, "vox1"),
        scoring_methods.COHORT_EMBEDDINGS: artifacts.COHORT.format(**wildcards),
        scoring_methods.HEAD_WEIGHTS: artifacts.MODEL.format(**wildcards),
        scoring_methods.COHORT_STATS: artifacts.STATS.format(**wildcards),
    }
    return {kind: paths[kind] for kind in kinds}


def method_score_inputs(wildcards):
    """A score file's inputs: its trial list and what its method's score step needs."""
    return {
        "trials": config["trials"][wildcards.trials],
        "checked": artifacts.TRIALS_CHECKED,
        **method_inputs(wildcards, scoring_methods.score_inputs(wildcards.scoring)),
    }


def method_stats_inputs(wildcards):
    """The inputs of a method's cohort statistics: evaluation embeddings and its cohort."""
    return method_inputs(wildcards, scoring_methods.stats_inputs(wildcards.scoring))


def score_files(wildcards):
    """Score files of every trial list of the experiment, by trial-list name."""
    return {
        name: artifacts.SCORES.format(**wildcards, trials=name)
        for name in experiment(wildcards.alias).trials
    }


def experiment_trials(wildcards):
    """Trial-list paths of one experiment, by name (in the published tables' order)."""
    return {name: config["trials"][name] for name in experiment(wildcards.alias).trials}


def det_plot_runs(wildcards):
    """Every curve of a model's DET figure (voxsv.plots): trial list, stage, method, its files,
    and the published EER of the same row (None where unpublished)."""
    exp = experiment(wildcards.alias)
    sources = experiment_sources([exp])
    return [
        {
            "trials": name,
            "stage": source.stage,
            "method": source.scoring,
            "trials_path": config["trials"][name],
            "scores": artifacts.SCORES.format(
                alias=exp.alias, stage=source.stage, scoring=source.scoring, trials=name
            ),
            "published_eer": published_eer(source.key, name),
        }
        for source in sources
        for name in exp.trials
    ]


def result_sources():
    """Every result table of the default models with what it reproduces (for the summary)."""
    experiments = [EXPERIMENTS[alias] for alias in config["default_models"]]
    return [
        {**vars(source), "path": str(source.path)}
        for source in experiment_sources(experiments)
    ]


def baseline_trials():
    """Trial-list paths by name of every list that the default models are evaluated on, in the
    published order (so that a reordered config changes no params)."""
    names = {name for alias in config["default_models"] for name in EXPERIMENTS[alias].trials}
    return {name: config["trials"][name] for name in ordered_lists(names)}


def baseline_input(wildcards):
    """The mean-FBANK baseline's inputs: its checked trial lists by name and the clean
    VoxCeleb1 FBANK at the first default model's bins (which its embeddings read anyway)."""
    bins = EXPERIMENTS[config["default_models"][0]].num_mel_bins
    return {
        "features": artifacts.baseline_features(config["data"], bins),
        "checked": artifacts.TRIALS_CHECKED,
        **baseline_trials(),
    }
