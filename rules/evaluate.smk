# Evaluation: embeddings of the VoxCeleb1 audio and of the AS-norm cohort (clean VoxCeleb2-dev),
# one job per feature shard; cosine and AS-norm scores per trial list; EER/minDCF tables, DET
# plots and a summary beside the published figures. What each scoring method reads comes from
# the registry voxsv.scoring_methods; AS-norm's per-utterance cohort statistics are computed once
# per model, stage and method (rule asnorm_stats) and shared by every trial list.

from voxsv import scoring_methods


rule embed:
    input:
        model="exp/{alias}/{stage}/model.pt",
        features=embed_features_input,
    output:
        "exp/{alias}/{stage}/embeddings/{part}/shard{shard}.npz",
    params:
        scoring=config["scoring"],
        cmn_window=config["data"]["cmn_window"],
        corpus_root=lambda wc: config["paths"]["voxceleb1" if wc.part == "vox1" else "voxceleb2_dev"],
    log:
        "logs/embed/{alias}/{stage}/{part}_shard{shard}.log",
    threads: config["scoring"]["resources"]["cpus"]
    resources:
        cpus_per_task=config["scoring"]["resources"]["cpus"],
        mem_mb=config["scoring"]["resources"]["mem_mb"],
        runtime=config["scoring"]["resources"]["runtime"],
        gpu=config["scoring"]["resources"]["gpus"],
    conda:
        ENV
    script:
        "../workflow/scripts/embed.py"


rule cohort:
    input:
        lambda wc: embedding_shards(wc, "cohort"),
    output:
        "exp/{alias}/{stage}/embeddings/cohort.npz",
    log:
        "logs/embed/{alias}/{stage}/cohort.log",
    conda:
        ENV
    script:
        "../workflow/scripts/cohort.py"


def method_inputs(wildcards, kinds):
    """The files of the input kinds that voxsv.scoring_methods names for a step of a method."""
    exp = f"exp/{wildcards.alias}/{wildcards.stage}"
    paths = {
        scoring_methods.EMBEDDINGS: embedding_shards(wildcards, "vox1"),
        scoring_methods.COHORT_EMBEDDINGS: f"{exp}/embeddings/cohort.npz",
        scoring_methods.HEAD_WEIGHTS: f"{exp}/model.pt",
        scoring_methods.COHORT_STATS: f"{exp}/scores/{wildcards.scoring}_stats.npz",
    }
    return {kind: paths[kind] for kind in kinds}


def method_score_inputs(wildcards):
    """A score file's inputs: its trial list and what its method's score step needs."""
    kinds = scoring_methods.score_inputs(wildcards.scoring)
    return {
        "trials": config["trials"][wildcards.trials],
        "checked": TRIALS_CHECKED,
        **method_inputs(wildcards, kinds),
    }


def method_stats_inputs(wildcards):
    """The inputs of a method's cohort statistics: evaluation embeddings and its cohort."""
    return method_inputs(wildcards, scoring_methods.stats_inputs(wildcards.scoring))


rule asnorm_stats:
    input:
        unpack(method_stats_inputs),
    output:
        "exp/{alias}/{stage}/scores/{scoring}_stats.npz",
    params:
        top_k=config["scoring"]["top_k"],
    log:
        "logs/score/{alias}/{stage}/{scoring}_stats.log",
    conda:
        ENV
    script:
        "../workflow/scripts/asnorm_stats.py"


rule score:
    input:
        unpack(method_score_inputs),
    output:
        "exp/{alias}/{stage}/scores/{scoring}_{trials}.txt",
    log:
        "logs/score/{alias}/{stage}/{scoring}_{trials}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/score.py"


rule result_table:
    input:
        unpack(score_files),
    output:
        report(
            "results/{alias}_{stage}_{scoring}.tsv",
            caption="report/result_table.rst",
            category="Results",
            subcategory="{alias}",
            labels={"model": "{alias}", "stage": "{stage}", "scoring": "{scoring}"},
        ),
    params:
        trials=config["trials"],
    log:
        "logs/results/{alias}_{stage}_{scoring}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/result_table.py"


def det_plot_runs(wildcards):
    """Every curve of a model's DET figure (voxsv.plots.DetRun): trial list, stage, method,
    its files, and the published EER of the same configuration (None if unpublished)."""
    from voxsv.results import REFERENCE_COLUMNS, reference_row

    runs = []
    for stage in TRAIN_STAGES:
        for scoring in SCORINGS:
            row = reference_row(
                config["models"][wildcards.alias]["arch"],
                stage,
                scoring,
                config["data"]["num_mel_bins"],
            )
            for name, path in config["trials"].items():
                column = REFERENCE_COLUMNS.get(name, (None,))[0]
                published = (row or {}).get(column) or None
                runs.append(
                    {
                        "trials": name,
                        "stage": stage,
                        "method": scoring,
                        "trials_path": path,
                        "scores": f"exp/{wildcards.alias}/{stage}/scores/{scoring}_{name}.txt",
                        "published_eer": float(published) if published else None,
                    }
                )
    return runs


rule det_plot:
    input:
        lambda wc: [run["scores"] for run in det_plot_runs(wc)],
    output:
        report(
            "results/det/{alias}.png",
            caption="report/det_plot.rst",
            category="DET curves",
            labels={"model": "{alias}"},
        ),
    params:
        runs=det_plot_runs,
    log:
        "logs/results/det_{alias}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/det_plot.py"


rule summary:
    input:
        result_tables(),
    output:
        tsv=report("results/summary.tsv", caption="report/summary.rst", category="Summary"),
        md="results/summary.md",
    params:
        sources=result_sources(),
    log:
        "logs/results/summary.log",
    conda:
        ENV
    script:
        "../workflow/scripts/summary.py"
