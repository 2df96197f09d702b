# The embedded mini corpus: the first rule of the DAG when `corpus.generate` is true. It writes
# VoxCeleb1/2-, MUSAN- and RIRS_NOISES-like trees and the O/E/H trial lists under corpus.root,
# deterministically from corpus.seed, sized by the other `corpus:` keys (voxsv.corpus).

if config["corpus"]["generate"]:

    rule generate_corpus:
        output:
            O=f"{config['corpus']['root']}/voxceleb1/veri_test2.txt",
            E=f"{config['corpus']['root']}/voxceleb1/list_test_all2.txt",
            H=f"{config['corpus']['root']}/voxceleb1/list_test_hard2.txt",
            meta=f"{config['corpus']['root']}/voxceleb1/vox1_meta.csv",
            voxceleb1=directory(f"{config['corpus']['root']}/voxceleb1/wav"),
            voxceleb2_dev=directory(f"{config['corpus']['root']}/voxceleb2/dev/aac"),
            musan=directory(f"{config['corpus']['root']}/musan"),
            rirs=directory(f"{config['corpus']['root']}/RIRS_NOISES"),
        params:
            root=lambda wc, output: str(Path(output.musan).parent),
            seed=config["corpus"]["seed"],
            sizes=stable(
                {
                    key: value
                    for key, value in config["corpus"].items()
                    if key not in ("generate", "root", "seed")
                }
            ),
        log:
            "logs/corpus/generate_corpus.log",
        conda:
            ENV
        script:
            "../workflow/scripts/generate_corpus.py"


# ---- Manifests (lhotse, .jsonl.gz) of the corpora under config["paths"] -------------------
# Ids follow the VoxCeleb paths (idXXXXX/<video>/<nnnnn>), so trial lines map to utterances.


rule manifest_voxceleb:
    input:
        root=lambda wc: config["paths"]["voxceleb1" if wc.corpus == "vox1" else "voxceleb2_dev"],
    output:
        recordings=artifacts.RECORDINGS,
        supervisions=artifacts.SUPERVISIONS,
    wildcard_constraints:
        corpus="vox1|vox2dev",
    params:
        kind="voxceleb",
        on_bad_audio=config["data"]["on_bad_audio"],
    log:
        "logs/manifests/{corpus}.log",
    threads: config["data"]["probe_workers"]
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/manifests.py"


rule manifest_musan:
    input:
        root=config["paths"]["musan"],
    output:
        recordings="data/manifests/musan_{part}_recordings.jsonl.gz",
    wildcard_constraints:
        part="noise|music|speech",
    params:
        kind="musan",
        on_bad_audio=config["data"]["on_bad_audio"],
    log:
        "logs/manifests/musan_{part}.log",
    threads: config["data"]["probe_workers"]
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/manifests.py"


use rule manifest_musan as manifest_rirs with:
    input:
        root=config["paths"]["rirs"],
    output:
        recordings="data/manifests/rirs_{room}_recordings.jsonl.gz",
    wildcard_constraints:
        room="smallroom|mediumroom",
    params:
        kind="rirs",
        on_bad_audio=config["data"]["on_bad_audio"],
    log:
        "logs/manifests/rirs_{room}.log",


rule check_trials:
    input:
        trials=list(config["trials"].values()),
        recordings="data/manifests/vox1_recordings.jsonl.gz",
    output:
        artifacts.TRIALS_CHECKED,
    params:
        kind="trials",
        trials=stable(config["trials"]),
    log:
        "logs/manifests/check_trials.log",
    threads: 1
    resources:
        mem_mb=config["data"]["mem_mb"],
        runtime=config["data"]["runtime"],
    conda:
        ENV
    script:
        "../workflow/scripts/manifests.py"
