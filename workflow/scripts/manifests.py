"""Snakemake entry point of the manifest rules (rules/corpus.smk); logic in voxsv.manifests."""

import logging

from voxsv import manifests

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True)  # noqa: F821
smk = snakemake  # noqa: F821
kind = smk.params.kind
if kind == "voxceleb":
    manifests.write_voxceleb(
        smk.input.root, smk.output.recordings, smk.output.supervisions,
        smk.params.workers, smk.params.on_bad_audio,
    )
elif kind == "musan":
    manifests.write_recordings(
        manifests.musan_entries(smk.input.root, smk.wildcards.part), smk.output.recordings,
        smk.params.workers, smk.params.on_bad_audio,
    )
elif kind == "rirs":
    manifests.write_recordings(
        manifests.rir_entries(smk.input.root, smk.wildcards.room), smk.output.recordings,
        smk.params.workers, smk.params.on_bad_audio,
    )
elif kind == "trials":
    manifests.check_trials(dict(smk.params.trials), smk.input.recordings, smk.output[0])
else:
    raise ValueError(f"unknown manifest kind {kind!r}")
