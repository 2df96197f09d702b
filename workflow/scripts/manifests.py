"""Snakemake entry point of the manifest rules (rules/corpus.smk); logic in voxsv.manifests."""

from voxsv import manifests
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    kind, workers = smk.params.kind, smk.threads  # probe workers: the job's threads
    if kind == "voxceleb":
        manifests.write_voxceleb(
            smk.input.root, smk.output.recordings, smk.output.supervisions,
            workers, smk.params.on_bad_audio,
        )
    elif kind == "musan":
        manifests.write_recordings(
            manifests.musan_entries(smk.input.root, smk.wildcards.part), smk.output.recordings,
            workers, smk.params.on_bad_audio,
        )
    elif kind == "rirs":
        manifests.write_recordings(
            manifests.rir_entries(smk.input.root, smk.wildcards.room), smk.output.recordings,
            workers, smk.params.on_bad_audio,
        )
    elif kind == "trials":
        manifests.check_trials(dict(smk.params.trials), smk.input.recordings, smk.output[0])
    else:
        raise ValueError(f"unknown manifest kind {kind!r}")
