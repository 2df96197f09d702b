"""Every bad input of the command line gives one line `voxsv CMD: <file or option>: <what is
wrong>`, exit status 1 and no output file (issue 12's list, each case checked by its message)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voxsv.cli import main

NO_DIR = "/nonexistent-voxsv-dir"
# (command line with {file} placeholders from cli_files and {out} for the output directory,
#  the expected message after `voxsv CMD: ` as a regex, or exactly when it is a plain str)
CASES = {
    "score: shards of two dimensions": (
        "score --trials {trials.txt} --embeddings {emb6.npz} {emb8.npz} --out {out}/s.txt",
        "{emb8.npz}: embeddings of dimension 8, but {emb6.npz} has dimension 6",
    ),
    "score: cohort of another dimension": (
        "score --trials {trials.txt} --embeddings {emb6.npz} {emb6b.npz} --cohort {cohort8.npz}"
        " --out {out}/s.txt",
        "{cohort8.npz}: cohort of dimension 8, but {emb6.npz} has dimension 6",
    ),
    "score: a .wav as --embeddings": (
        "score --trials {trials.txt} --embeddings {a.wav} --out {out}/s.txt",
        "{a.wav}: not an embeddings store (.npz with ids and embeddings)",
    ),
    "score: a NaN embedding": (
        "score --trials {trials.txt} --embeddings {nan.npz} --out {out}/s.txt",
        "{nan.npz}: 1 embedding(s) are NaN or infinite: b.wav",
    ),
    "score: an all-zero embedding": (
        "score --trials {trials.txt} --embeddings {zero.npz} --out {out}/s.txt",
        "{zero.npz}: 1 embedding(s) are all zero: b.wav",
    ),
    "score: --top-k without --cohort": (
        "score --trials {trials.txt} --embeddings {emb6.npz} {emb6b.npz} --top-k 5"
        " --out {out}/s.txt",
        "--top-k: only AS-norm against a cohort uses it (--cohort or --head-cohort)",
    ),
    "score: --top-k 0": (
        "score --trials {trials.txt} --embeddings {emb6.npz} {emb6b.npz} --cohort {cohort6.npz}"
        " --top-k 0 --out {out}/s.txt",
        "--top-k: 0 is too small, it must be at least 1",
    ),
    "score: output directory missing (checked before reading anything)": (
        f"score --trials {{out}}/missing.txt --embeddings {{a.wav}} --out {NO_DIR}/s.txt",
        f"{NO_DIR}/s.txt: cannot write: {NO_DIR} is not an existing directory",
    ),
    "score: trials missing an embedding": (
        "score --trials {trials.txt} --embeddings {emb6.npz} --out {out}/s.txt",
        "{trials.txt}: 1 utterance(s) named in the trials have no embedding, e.g. c.wav"
        " in {emb6.npz}",
    ),
    "eer: --p-target 0": (
        "eer --trials {trials.txt} --scores {scores.txt} --p-target 0",
        "--p-target: 0.0 is not in (0, 1)",
    ),
    "eer: missing score file": (
        "eer --trials {trials.txt} --scores {out}/none.txt",
        "{out}/none.txt: no such file",
    ),
    "embed: a .wav as --model": (
        "embed --model {a.wav} {b.wav} --out {out}/e.npz",
        re.compile(r"{a.wav}: not a model\.pt checkpoint or \.onnx model \(\w+: .*\)"),
    ),
    "embed: a .pt that is no checkpoint": (
        "embed --model {junk.pt} {b.wav} --out {out}/e.npz",
        "{junk.pt}: checkpoint lacks ['arch', 'model', 'num_mel_bins']",
    ),
    "embed: missing .onnx": (
        "embed --model {out}/none.onnx {b.wav} --out {out}/e.npz",
        "{out}/none.onnx: no such file",
    ),
    "embed: empty .onnx": (
        "embed --model {empty.onnx} {b.wav} --out {out}/e.npz",
        re.compile(r"{empty.onnx}: not a loadable ONNX model \(.*\)"),
    ),
    "embed: corrupt .onnx": (
        "embed --model {corrupt.onnx} {b.wav} --out {out}/e.npz",
        re.compile(r"{corrupt.onnx}: not a loadable ONNX model \(.*\)"),
    ),
    "embed: ONNX of another input shape": (
        "embed --model {rows.onnx} {b.wav} --out {out}/e.npz",
        "{rows.onnx}: inputs x ['batch', 40]: an extractor takes one (batch, frames, bins)"
        " input with dynamic frames and gives one (batch, dim) output",
    ),
    "embed: model without feature settings": (
        "embed --model {bare.onnx} {b.wav} --out {out}/e.npz",
        "{bare.onnx}: stores no feature settings (model.pt `features`, model.onnx voxsv.*"
        " metadata): train or export it with this voxsv version",
    ),
    "embed: stereo input": (
        "embed --model {model.pt} {a.wav} {stereo.wav} --out {out}/e.npz",
        "{stereo.wav}: 2 channels, expected mono",
    ),
    "embed: --chunk-frames 0": (
        "embed --model {model.pt} {a.wav} --chunk-frames 0 --out {out}/e.npz",
        "--chunk-frames: 0 is too small, it must be at least 1",
    ),
    "embed: --chunk-frames -5": (
        "embed --model {model.onnx} {a.wav} --chunk-frames -5 --out {out}/e.npz",
        "--chunk-frames: -5 is too small, it must be at least 1",
    ),
    "embed: --chunk-frames 10, under the model's receptive field": (
        "embed --model {model.onnx} {a.wav} --chunk-frames 10 --out {out}/e.npz",
        "--chunk-frames: 10 is too small, it must be at least 25 for {model.onnx}: it needs"
        " inputs of 25 frame(s) or more, and an utterance is cut as tf_extract.py cuts it, into"
        " chunks of --chunk-frames frames and a last one of 25 frames or more",
    ),
    "embed: --chunk-frames 10 with model.pt": (
        "embed --model {model.pt} {a.wav} --chunk-frames 10 --out {out}/e.npz",
        "--chunk-frames: 10 is too small, it must be at least 25 for {model.pt}: it needs"
        " inputs of 1 frame(s) or more, and an utterance is cut as tf_extract.py cuts it, into"
        " chunks of --chunk-frames frames and a last one of 25 frames or more",
    ),
    "embed: an utterance shorter than the model's input": (
        "embed --model {model.pt} {a.wav} {brief.wav} --out {out}/e.npz",
        "{brief.wav}: 0.145 s gives 13 FBANK frame(s); an embedding needs at least 25 (0.265 s)",
    ),
    "embed: the same file twice": (
        "embed --model {model.pt} {a.wav} {b.wav} {a.wav} --out {out}/e.npz",
        "{a.wav}: given twice (each input must appear once)",
    ),
    "embed: output directory missing, before loading the model": (
        f"embed --model {{out}}/none.onnx {{a.wav}} --out {NO_DIR}/e.npz",
        f"{NO_DIR}/e.npz: cannot write: {NO_DIR} is not an existing directory",
    ),
    "embed: output directory not writable": (
        "embed --model {model.pt} {a.wav} --out /sys/e.npz",
        re.compile(r"/sys/e\.npz: cannot write in /sys \(.+\)"),
    ),
    "embed: missing audio file": (
        "embed --model {model.pt} {a.wav} {out}/none.wav --out {out}/e.npz",
        "{out}/none.wav: no such file",
    ),
    "verify: stereo input": (
        "verify --model {model.onnx} {a.wav} {stereo.wav}",
        "{stereo.wav}: 2 channels, expected mono",
    ),
    "verify: --chunk-frames 10": (
        "verify --model {model.pt} {a.wav} {b.wav} --chunk-frames 10",
        re.compile(r"--chunk-frames: 10 is too small, it must be at least 25 for .*"),
    ),
    "params: --bins 0": (
        "params --bins 0",
        "--bins: 0 is too small, it must be at least 3 (Kaldi FBANK's fewest mel bins)",
    ),
    "fbank: --num-mel-bins 0": (
        "fbank {a.wav} {out}/f.npy --num-mel-bins 0",
        "--num-mel-bins: 0 is too small, it must be at least 3 (Kaldi FBANK's fewest)",
    ),
    "fbank: --cmn-window -3": (
        "fbank {a.wav} {out}/f.npy --cmn-window -3",
        "--cmn-window: -3 is too small, it must be at least 0 (0 turns CMN off)",
    ),
    "fbank: a directory as input": (
        "fbank {out} {out}/f.npy",
        "{out}: is a directory, expected a file",
    ),
    "fbank: 100 samples, shorter than a frame": (
        "fbank {short.wav} {out}/f.npy",
        "{short.wav}: 100 samples (0.0063 s), shorter than one 25 ms frame (400 samples):"
        " no FBANK frame",
    ),
    "fbank: output directory missing": (
        f"fbank {{a.wav}} {NO_DIR}/f.npy",
        f"{NO_DIR}/f.npy: cannot write: {NO_DIR} is not an existing directory",
    ),
    "fbank: stereo input": (
        "fbank {stereo.wav} {out}/f.npy",
        "{stereo.wav}: 2 channels, expected mono",
    ),
    "corpus: sizes that cannot make trials": (
        "corpus {out}/corpus --seed 1 --vox1-test-speakers 50",
        "--size mini with the size flags given: vox1_test_speakers must be between 2 and"
        " vox1_speakers",
    ),
}


def fill(text: str, files: dict[str, Path], out: Path, escape: bool = False) -> str:
    """`text` with {name} replaced by the path of cli_files[name] and {out} by `out`
    (regex-escaped with `escape`)."""
    names = {**{name: str(path) for name, path in files.items()}, "out": str(out)}
    quote = re.escape if escape else str
    return re.sub(r"\{([\w.]+)\}", lambda m: quote(names[m[1]]), text)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_1(
    case: str, cli_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv, expected = CASES[case]
    out = tmp_path / "out"
    out.mkdir()
    args = fill(argv, cli_files, out).split()
    inputs_before = {p: p.stat().st_mtime_ns for p in cli_files.values()}
    assert main(args) == 1
    captured = capsys.readouterr()
    prefix = f"voxsv {args[0]}: "
    assert captured.err.endswith("\n") and captured.err.count("\n") == 1, captured.err
    message = captured.err[:-1]
    assert message.startswith(prefix), message
    if isinstance(expected, re.Pattern):
        pattern = fill(expected.pattern, cli_files, out, escape=True)
        assert re.fullmatch(pattern, message[len(prefix) :]), message
    else:
        assert message[len(prefix) :] == fill(expected, cli_files, out)
    assert captured.out == ""
    assert list(out.iterdir()) == []  # nothing written, not even a temporary file
    assert {p: p.stat().st_mtime_ns for p in cli_files.values()} == inputs_before
