"""`voxsv corpus`: writes the sizes given; never overwrites a corpus (one line, exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxsv.cli import main
from voxsv.corpus import layout


def test_corpus_writes_the_sizes_given_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "c"
    args = ["corpus", str(out), "--seed", "5", "--size", "tiny", "--vox1-speakers", "5",
            "--musan-files", "1"]  # fmt: skip
    assert main(args) == 0
    assert len(list((out / layout.VOX1_WAV).iterdir())) == 5
    assert len(list((out / "musan/noise/free-sound").iterdir())) == 1
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"voxsv corpus: {out}: ") and "already holds files" in err
    assert err.count("\n") == 1
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
