# FBANK archives (lhotse CutSet + lilcom-chunky .lca) per mel-bin count, corpus, copy and
# shard: the VoxCeleb2-dev training copies (and its clean copy, the AS-norm cohort) and the
# VoxCeleb1 audio (clean for evaluation; every copy for the VoxCeleb1-dev training set). Raw
# log-mel FBANK; readers apply sliding CMN. The archive is renamed into place before its
# manifest, so a manifest means a whole archive. Archives are keyed by their bins, so 40- and
# 80-bin experiments share one DAG and a new experiment reuses the archives of its bins.


rule fbank:
    input:
        recordings=artifacts.RECORDINGS,
        supervisions=artifacts.SUPERVISIONS,
        plans=augment_plan_input,
    output:
        manifest=artifacts.FBANK_MANIFEST,
        archive=artifacts.FBANK_ARCHIVE,
    params:
        options=fbank_params,
        num_shards=num_shards,
    log:
        "logs/fbank/{bins}/{corpus}/{variant}/shard{shard}.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/featurize.py"


# The VoxCeleb1-dev training set: VoxCeleb1 cuts of the speakers outside the O list, as a
# manifest that points into the VoxCeleb1 archive of the same copy (no features recomputed).
rule vox1dev_subset:
    input:
        manifest=artifacts.VOX1_FBANK_MANIFEST,
        o_trials=config["trials"].get("O", []),
    output:
        artifacts.VOX1DEV_SUBSET,
    log:
        "logs/fbank/{bins}/vox1dev/{variant}/shard{shard}.log",
    threads: 1
    conda:
        ENV
    script:
        "../workflow/scripts/vox1dev_subset.py"


# The training crop store of one shard (VoxCeleb2 dev, or a VoxCeleb1-dev subset): every cut's
# whole-utterance sliding CMN as float32 rows in one memory-mappable .npy (voxsv.crop_store), so
# the training loader slices crops instead of decoding lilcom chunks and normalising each crop.
# Written from the lilcom archive, so the crops are the same numbers; ~3.4x its bytes.
rule crop_store:
    input:
        unpack(crop_store_input),
    output:
        manifest=artifacts.CROPS_MANIFEST,
        rows=artifacts.CROPS_ROWS,
    params:
        cmn_window=config["data"]["cmn_window"],
    log:
        "logs/crops/{bins}/{corpus}/{variant}/shard{shard}.log",
    wildcard_constraints:
        corpus="|".join(artifacts.TRAIN_CORPORA),
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/crop_store.py"
