# Augmentation plans: per corpus, shard and augmented copy, the seeded draws of every utterance
# (which RIR; which MUSAN files at which offsets and SNRs). As in Kaldi's recipe no augmented
# audio is stored; rules/features.smk applies a plan while computing FBANK (voxsv.augment).
# VoxCeleb2 dev gets plans for its training copies; VoxCeleb1 for the VoxCeleb1-dev training
# set of table 1.


rule augment_plan:
    input:
        recordings=artifacts.RECORDINGS,
        sources=lambda wc: list(augment_sources(wc.variant).values()),
    output:
        artifacts.PLAN,
    wildcard_constraints:
        variant="reverb|noise|music|babble",
    params:
        sources=lambda wc: stable(augment_sources(wc.variant)),
        options=lambda wc: stable(config["data"]["augment"][wc.variant]),
        num_shards=num_shards,
        seed=config["data"]["seed"],
    log:
        "logs/augment/{corpus}/{variant}/shard{shard}.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/augment.py"
