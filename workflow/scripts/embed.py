"""Snakemake entry point of rule embed: embeddings of one FBANK shard, keyed by the utterance
paths as trial lists write them (relative to the corpus root)."""

import logging
from pathlib import Path

from lhotse import CutSet

from voxsv.embed import embed_cuts, load_extractor
from voxsv.scoring import save_embeddings

smk = snakemake  # noqa: F821
logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
scoring = smk.params.scoring
extractor = load_extractor(smk.input.model, device=scoring["device"])
cuts = CutSet.from_file(smk.input.features)
root = Path(smk.params.corpus_root).resolve()
path_of = {
    cut.id: Path(cut.recording.sources[0].source).resolve().relative_to(root).as_posix()
    for cut in cuts
}
ids, embeddings = embed_cuts(
    cuts, extractor, scoring["chunk_frames"], scoring["embed_batch_size"], smk.params.cmn_window
)
save_embeddings(smk.output[0], [path_of[i] for i in ids], embeddings)
logging.info("%d embeddings of dimension %d", *embeddings.shape)
