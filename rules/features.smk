# FBANK archives (lhotse CutSet + lilcom-chunky .lca) per shard: the VoxCeleb2-dev training
# copies and the VoxCeleb1 evaluation audio. Raw log-mel FBANK; readers apply sliding CMN.
# The archive is renamed into place before its manifest, so a manifest means a whole archive.


rule fbank_vox2dev:
    input:
        recordings="data/manifests/vox2dev_recordings.jsonl.gz",
        supervisions="data/manifests/vox2dev_supervisions.jsonl.gz",
        plans=augment_plan_input,
    output:
        manifest="data/fbank/vox2dev/{variant}/shard{shard}.jsonl.gz",
        archive="data/fbank/vox2dev/{variant}/shard{shard}.lca",
    wildcard_constraints:
        variant="clean|reverb|noise|music|babble",
        shard=r"\d+",
    params:
        copy_name=lambda wc: wc.variant,
        num_shards=config["data"]["num_shards"],
        data=config["data"],
    log:
        "logs/fbank/vox2dev/{variant}/shard{shard}.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/featurize.py"


rule fbank_vox1:
    input:
        recordings="data/manifests/vox1_recordings.jsonl.gz",
        supervisions="data/manifests/vox1_supervisions.jsonl.gz",
    output:
        manifest="data/fbank/vox1/shard{shard}.jsonl.gz",
        archive="data/fbank/vox1/shard{shard}.lca",
    wildcard_constraints:
        shard=r"\d+",
    params:
        copy_name="clean",
        num_shards=config["data"]["eval_shards"],
        data=config["data"],
    log:
        "logs/fbank/vox1/shard{shard}.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/featurize.py"
