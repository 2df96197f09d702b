# Augmentation plans: per shard and augmented copy, the seeded draws of every utterance (which
# RIR; which MUSAN files at which offsets and SNRs). As in Kaldi's recipe no augmented audio is
# stored; rules/features.smk applies a plan while computing FBANK (voxsv.augment).


rule augment_plan:
    input:
        recordings="data/manifests/vox2dev_recordings.jsonl.gz",
        sources=lambda wc: list(augment_sources(wc.variant).values()),
    output:
        "data/augment/{variant}/shard{shard}.jsonl.gz",
    wildcard_constraints:
        variant="reverb|noise|music|babble",
        shard=r"\d+",
    params:
        sources=lambda wc: augment_sources(wc.variant),
        options=lambda wc: config["data"]["augment"][wc.variant],
        num_shards=config["data"]["num_shards"],
        seed=config["data"]["seed"],
    log:
        "logs/augment/{variant}/shard{shard}.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/augment.py"
