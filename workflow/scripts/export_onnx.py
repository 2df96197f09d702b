"""Snakemake entry point of rule export_onnx: export a checkpoint to ONNX and check it against
the PyTorch model on real (CMN-normalised) evaluation utterances before it is put in place."""

import logging

from lhotse import CutSet

from voxsv.atomic import atomic_path
from voxsv.embed import load_extractor
from voxsv.export import check_onnx, export_onnx
from voxsv.features import sliding_cmn
from voxsv.rulelog import rule_log

smk = snakemake  # noqa: F821
with rule_log(smk):
    extractor = load_extractor(smk.input.model, device="cpu")
    cuts = CutSet.from_file(smk.input.features).subset(first=smk.params.num_utterances)
    inputs = [sliding_cmn(cut.load_features(), smk.params.cmn_window)[None] for cut in cuts]
    with atomic_path(smk.output[0]) as tmp:
        export_onnx(extractor.model, tmp, extractor.num_mel_bins, extractor.features)
        worst = check_onnx(extractor.model, tmp, inputs)
        logging.info("max |onnx - torch| = %.3g over %d utterances", worst, len(inputs))
        if not worst < smk.params.tolerance:
            raise RuntimeError(
                f"{smk.output[0]}: ONNX differs from PyTorch by {worst:.3g} "
                f"(> {smk.params.tolerance:g}) on {smk.input.features}"
            )
