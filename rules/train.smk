# Training: pre-training on the augmented copies, then large-margin fine-tuning (LMFT) on the
# clean copy, per model alias (config `models`). One job per stage, on the stage's GPUs (or CPU
# processes); more than one process is launched through torchrun. Checkpoints go to
# exp/{alias}/{stage}/checkpoints/, which is deliberately not an output: Snakemake keeps it when
# a job fails or is killed, and the retry (or a rerun) resumes from the newest checkpoint.


rule train:
    input:
        archives=lambda wc: train_archives(wc.alias, wc.stage),
        init=lambda wc: train_init(wc),
    output:
        "exp/{alias}/{stage}/model.pt",
    wildcard_constraints:
        stage="pretrain|lmft",
        alias=r"[^/]+",
    params:
        settings=train_settings,
        world_size=lambda wc: train_world_size(wc.alias, wc.stage),
        nodes=lambda wc: stage_config(wc.alias, wc.stage)["nodes"],
    log:
        "logs/train/{alias}/{stage}.log",
    threads: lambda wc: stage_config(wc.alias, wc.stage)["resources"]["cpus"]
    resources:
        cpus_per_task=lambda wc: stage_config(wc.alias, wc.stage)["resources"]["cpus"],
        mem_mb=lambda wc: stage_config(wc.alias, wc.stage)["resources"]["mem_mb"],
        runtime=lambda wc: stage_config(wc.alias, wc.stage)["resources"]["runtime"],
        gpu=lambda wc: stage_config(wc.alias, wc.stage)["gpus"],
        nodes=lambda wc: stage_config(wc.alias, wc.stage)["nodes"],
        tasks=lambda wc: stage_config(wc.alias, wc.stage)["nodes"],
    retries: config["train"]["retries"]
    conda:
        ENV
    script:
        "../workflow/scripts/train.py"
