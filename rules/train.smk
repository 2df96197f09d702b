# Training: pre-training on the augmented copies, then (where the experiment has it)
# large-margin fine-tuning (LMFT) on the clean copy, per experiment (config `models`). One job
# per stage, on the stage's GPUs (or CPU processes); more than one process is launched through
# torchrun. Checkpoints go to exp/{alias}/{stage}/checkpoints/, which is deliberately not an
# output: Snakemake keeps it when a job fails or is killed, and the retry (or a rerun) resumes
# from the newest checkpoint written under the same settings. Params hold only what changes the
# model (voxsv.experiments.train_params); the run layout (GPUs, nodes, micro-batch), resources,
# workers and logging are read from the config by the script, so editing them reruns nothing.


rule train:
    input:
        archives=train_archives,
        init=train_init,
    output:
        artifacts.MODEL,
    params:
        settings=train_rule_params,
    log:
        "logs/train/{alias}/{stage}.log",
    threads: stage_resource("cpus")
    resources:
        cpus_per_task=stage_resource("cpus"),
        mem_mb=stage_resource("mem_mb"),
        runtime=stage_resource("runtime"),
        gpu=lambda wc: stage_config(wc)["gpus"],
        nodes=lambda wc: stage_config(wc).get("nodes", 1),
        tasks=lambda wc: stage_config(wc).get("nodes", 1),
    retries: config["train"]["retries"]
    conda:
        ENV
    script:
        "../workflow/scripts/train.py"
