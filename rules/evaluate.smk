# Evaluation: embeddings of the VoxCeleb1 audio and of the AS-norm cohort (clean VoxCeleb2-dev),
# one job per feature shard; cosine and AS-norm scores per trial list; EER/minDCF tables, DET
# plots, the mean-FBANK cosine baseline (rule baseline: a floor that needs no model) and a summary
# beside the published figures and the baseline. What each scoring method reads comes from
# the registry voxsv.scoring_methods; AS-norm's per-utterance cohort statistics are computed once
# per model, stage and method (rule asnorm_stats) and shared by every trial list.

rule embed:
    input:
        model=artifacts.MODEL,
        features=embed_features_input,
    output:
        artifacts.EMBEDDINGS,
    params:
        chunk_frames=lambda wc: experiment_scoring(wc, "chunk_frames"),
        cmn_window=config["data"]["cmn_window"],
        corpus_root=lambda wc: config["paths"]["voxceleb1" if wc.part == "vox1" else "voxceleb2_dev"],
    log:
        "logs/embed/{alias}/{stage}/{part}_shard{shard}.log",
    threads: lambda wc: experiment_scoring(wc, "resources")["cpus"]
    resources:
        cpus_per_task=lambda wc: experiment_scoring(wc, "resources")["cpus"],
        mem_mb=lambda wc: experiment_scoring(wc, "resources")["mem_mb"],
        runtime=lambda wc: experiment_scoring(wc, "resources")["runtime"],
        gpu=lambda wc: experiment_scoring(wc, "resources")["gpus"],
    conda:
        ENV
    script:
        "../workflow/scripts/embed.py"


rule cohort:
    input:
        lambda wc: embedding_shards(wc, "cohort"),
    output:
        artifacts.COHORT,
    log:
        "logs/embed/{alias}/{stage}/cohort.log",
    conda:
        ENV
    script:
        "../workflow/scripts/cohort.py"


rule asnorm_stats:
    input:
        unpack(method_stats_inputs),
    output:
        artifacts.STATS,
    params:
        top_k=lambda wc: experiment_scoring(wc, "top_k"),
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
        artifacts.SCORES,
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
            artifacts.RESULT,
            caption="report/result_table.rst",
            category="Results",
            subcategory="{alias}",
            labels={"model": "{alias}", "stage": "{stage}", "scoring": "{scoring}"},
        ),
    params:
        trials=experiment_trials,
    log:
        "logs/results/{alias}_{stage}_{scoring}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/result_table.py"


rule det_plot:
    input:
        lambda wc: [run["scores"] for run in det_plot_runs(wc)],
    output:
        report(
            artifacts.DET,
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


rule baseline:
    input:
        unpack(baseline_input),
    output:
        artifacts.BASELINE,
    params:
        trials=baseline_trials(),
        corpus_root=config["paths"]["voxceleb1"],
    log:
        "logs/results/baseline.log",
    conda:
        ENV
    script:
        "../workflow/scripts/baseline.py"


rule summary:
    input:
        tables=[source["path"] for source in result_sources()],
        baseline=artifacts.BASELINE,
    output:
        tsv=report(artifacts.SUMMARY[0], caption="report/summary.rst", category="Summary"),
        md=artifacts.SUMMARY[1],
    params:
        sources=result_sources(),
    log:
        "logs/results/summary.log",
    conda:
        ENV
    script:
        "../workflow/scripts/summary.py"
