"""What `embed` and `verify` share: the model file with its feature settings, and the network
input of each audio file computed from them (voxsv.feature_settings)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence

import numpy as np

from voxsv.cli.common import at_least, input_file
from voxsv.embed import CHUNK_FRAMES, MIN_FRAMES, Extractor, load_extractor
from voxsv.errors import InputError, ModelError

FRAME_SAMPLES, HOP_SAMPLES = 400, 160  # Kaldi FBANK: 25 ms frames every 10 ms at 16 kHz

SEED_HELP = (
    "seed of the FBANK dither (when the model's settings dither), per file with its path as "
    "given minus the suffix, as the pipeline seeds data.seed per cut id"
)


def add_extraction_options(parser: argparse.ArgumentParser) -> None:
    """The options `embed` and `verify` share: chunk length and the dither seed."""
    parser.add_argument(
        "--chunk-frames", type=int, default=CHUNK_FRAMES, metavar="N",
        help="longest chunk of an utterance given to the model at once",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help=SEED_HELP)


def open_model(path: str | os.PathLike, chunk_frames: int) -> Extractor:
    """The extractor of a model file that stores its feature settings; checks --chunk-frames."""
    at_least("--chunk-frames", chunk_frames, 1)
    extractor = load_extractor(path)
    if extractor.features is None:
        raise ModelError(
            f"{path}: stores no feature settings (model.pt `features`, model.onnx voxsv.* "
            "metadata): train or export it with this voxsv version"
        )
    shortest = extractor.min_frames
    at_least(
        "--chunk-frames", chunk_frames, max(shortest, MIN_FRAMES),
        f" for {path}: it needs inputs of {shortest} frame(s) or more, and an utterance is cut "
        f"as tf_extract.py cuts it, into chunks of --chunk-frames frames and a last one of "
        f"{MIN_FRAMES} frames or more",
    )  # fmt: skip
    return extractor


def check_inputs(paths: Sequence[str]) -> None:
    """Every audio path is an existing file (before any work starts)."""
    for path in paths:
        input_file(path)


def audio_inputs(
    paths: Sequence[str], extractor: Extractor, seed: int
) -> Iterator[tuple[str, np.ndarray]]:
    """(path, network input) of each file; one shorter than the model's shortest input, or than
    tf_extract.py's shortest utterance (25 frames), fails."""
    from voxsv.audio import read_audio
    from voxsv.feature_settings import network_input
    from voxsv.trials import utterance_id

    for path in paths:
        samples = read_audio(path)
        frames = max(0, 1 + (len(samples) - FRAME_SAMPLES) // HOP_SAMPLES)
        shortest = max(extractor.min_frames, MIN_FRAMES)
        if frames < shortest:
            need = FRAME_SAMPLES + (shortest - 1) * HOP_SAMPLES
            raise InputError(
                f"{path}: {len(samples) / 16000:.3f} s gives {frames} FBANK frame(s); an "
                f"embedding needs at least {shortest} ({need / 16000:.3f} s)"
            )
        yield path, network_input(samples, extractor.features, utterance_id(path), seed)
