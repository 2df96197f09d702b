"""Snakemake entry point of rule embed: embeddings of one job's FBANK shards, keyed by the
utterance paths as trial lists write them (relative to the corpus root)."""

import logging

from lhotse import CutSet

from voxsv.embed import embed_cuts, load_extractor
from voxsv.experiments import resolve
from voxsv.manifests import trial_path
from voxsv.rulelog import rule_log
from voxsv.scoring import save_embeddings

smk = snakemake  # noqa: F821
with rule_log(smk):
    scoring = resolve(smk.config)[smk.wildcards.alias].scoring  # device and batch: run-only
    extractor = load_extractor(smk.input.model, device=scoring["device"])
    cuts = CutSet.from_cuts(cut for path in smk.input.features for cut in CutSet.from_file(path))
    path_of = {cut.id: trial_path(cut, smk.params.corpus_root) for cut in cuts}
    ids, embeddings = embed_cuts(
        cuts, extractor, smk.params.chunk_frames, scoring["embed_batch_size"],
        smk.params.cmn_window,
    )
    save_embeddings(smk.output[0], [path_of[i] for i in ids], embeddings)
    logging.info("%d embeddings of dimension %d", *embeddings.shape)
