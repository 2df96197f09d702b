"""Lhotse manifests of the local corpora: VoxCeleb1/2, MUSAN and the simulated-RIR rooms.

Not lhotse's voxceleb recipe, which downloads a trial list at run time, mixes VoxCeleb2 test and
VoxCeleb1 dev into training and filters in quadratic time. Here a corpus tree is walked once
(sorted, linear), durations are read from the file headers in parallel chunks (RIFF for wav,
the MP4 `mvhd` box for VoxCeleb2's `.m4a`: no process per file), and manifests are streamed to
`.jsonl.gz`, so memory grows with the manifest and nothing else. Utterance ids are the paths
under the root without extension (`id10001/1zcIwhmdeo4/00001`), speakers the first path
component, so trial lines map to utterances by `voxsv.trials.utterance_id` without guessing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.audio import AudioSource
from lhotse.cut import Cut
from lhotse.lazy import LazyJsonlIterator

from voxsv.atomic import atomic_path, write_text
from voxsv.audio import SAMPLE_RATE, AudioError, probe_duration
from voxsv.trials import read_trials, utterance_id

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".m4a", ".flac")
PROBE_CHUNK = 512  # paths per worker task: few tasks for 1.1 M files, small enough to balance


class ManifestError(ValueError):
    """A corpus that cannot be listed (missing directory, bad RIR list); names the path."""


@dataclass(frozen=True)
class Entry:
    """One audio file of a corpus: its id, path and (for VoxCeleb) speaker."""

    id: str
    path: str
    speaker: str | None = None


def _require_dir(root: str | os.PathLike) -> Path:
    """Return `root` as a Path, or raise ManifestError if it is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root}: corpus directory does not exist")
    return root


def _walk(root: Path) -> Iterator[Path]:
    """Yield every audio file under `root` in sorted path order (one scandir per directory)."""
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=True):
            yield from _walk(Path(entry.path))
        elif entry.name.lower().endswith(AUDIO_EXTENSIONS):
            yield Path(entry.path)


def voxceleb_entries(root: str | os.PathLike) -> list[Entry]:
    """Every `idXXXXX/<video>/<nnnnn>.{wav,m4a,flac}` under a VoxCeleb root, sorted by id."""
    root = _require_dir(root)
    entries = []
    for path in _walk(root):
        rel = path.relative_to(root).with_suffix("").as_posix()
        parts = rel.split("/")
        if len(parts) != 3:
            raise ManifestError(f"{path}: not at <speaker>/<video>/<utterance> under {root}")
        entries.append(Entry(id=rel, path=str(path), speaker=parts[0]))
    entries.sort(key=lambda e: e.id)  # string order of ids, which shards rely on
    if not entries:
        raise ManifestError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found")
    _check_unique(entries, root)
    return entries


def trial_path(cut: Cut, corpus_root: str | os.PathLike) -> str:
    """A cut's audio path relative to the corpus root, as trial lists write it: the key that
    evaluation joins trials with (embeddings, the mean-FBANK baseline)."""
    source = Path(cut.recording.sources[0].source).resolve()
    return source.relative_to(Path(corpus_root).resolve()).as_posix()


def musan_entries(root: str | os.PathLike, kind: str) -> list[Entry]:
    """Every audio file of MUSAN's `noise`, `music` or `speech` part; id = path under the root."""
    part = _require_dir(Path(root) / kind)
    entries = [
        Entry(id=path.relative_to(root).with_suffix("").as_posix(), path=str(path))
        for path in _walk(part)
    ]
    if not entries:
        raise ManifestError(f"{part}: no audio files found")
    return entries


def rir_entries(rirs_root: str | os.PathLike, room: str) -> list[Entry]:
    """The RIRs of `simulated_rirs/<room>/rir_list` (Kaldi format), with their files checked.

    Lines read `--rir-id <id> --room-id <room> <path>`; the path is relative to the directory
    that holds RIRS_NOISES (as Kaldi's recipe runs it), to the RIRS_NOISES root, or absolute.
    """
    rirs_root = _require_dir(rirs_root)
    rir_list = rirs_root / "simulated_rirs" / room / "rir_list"
    if not rir_list.is_file():
        raise ManifestError(f"{rir_list}: RIR list does not exist")
    entries, missing = [], []
    for number, line in enumerate(rir_list.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        rir_id, rel = _parse_rir_line(line, rir_list, number)
        path = _resolve_rir(rirs_root, rel)
        if path is None:
            missing.append(f"{rir_list}:{number}: {rel}")
        else:
            entries.append(Entry(id=rir_id, path=str(path)))
    if missing:
        raise ManifestError(
            f"{len(missing)} RIR file(s) named in {rir_list} do not exist, first: "
            + "; ".join(missing[:5])
        )
    if not entries:
        raise ManifestError(f"{rir_list}: no RIRs listed")
    _check_unique(entries, rir_list)
    return entries


def _parse_rir_line(line: str, rir_list: Path, number: int) -> tuple[str, str]:
    """Return (rir id, path) of one rir_list line, or raise naming the file and line."""
    tokens = shlex.split(line)
    opts = dict(zip(tokens[:-1:2], tokens[1:-1:2], strict=True)) if len(tokens) % 2 else None
    if not opts or "--rir-id" not in opts or not set(opts) <= {"--rir-id", "--room-id"}:
        raise ManifestError(
            f"{rir_list}:{number}: expected `--rir-id <id> --room-id <room> <path>`, "
            f"found {line.strip()!r}"
        )
    return opts["--rir-id"], tokens[-1]


def _resolve_rir(rirs_root: Path, rel: str) -> Path | None:
    """The existing file that a rir_list path names, or None."""
    for candidate in (Path(rel), rirs_root.parent / rel, rirs_root / rel):
        if candidate.is_file():
            return candidate
    return None


def _check_unique(entries: Sequence[Entry], where: Path) -> None:
    """Raise if two files share an id (e.g. `00001.wav` beside `00001.m4a`)."""
    ids = sorted(e.id for e in entries)
    dups = [a for a, b in zip(ids, ids[1:], strict=False) if a == b]
    if dups:
        raise ManifestError(f"{where}: {len(dups)} duplicate id(s), first: {dups[:5]}")


def _probe_chunk(paths: list[str]) -> list[float | str]:
    """Durations of `paths`; an unreadable file gives its error message instead."""
    out: list[float | str] = []
    for path in paths:
        try:
            out.append(probe_duration(path))
        except AudioError as err:
            out.append(str(err))
    return out


def probe_durations(paths: Sequence[str], workers: int = 1) -> list[float | str]:
    """Probe every path, in `workers` processes over chunks of PROBE_CHUNK paths, in order."""
    chunks = [list(paths[i : i + PROBE_CHUNK]) for i in range(0, len(paths), PROBE_CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        results: Iterable[list[float | str]] = map(_probe_chunk, chunks)
        return [d for chunk in results for d in chunk]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [d for chunk in pool.map(_probe_chunk, chunks) for d in chunk]


def _recording(entry: Entry, duration: float) -> Recording:
    """The lhotse Recording of one probed file."""
    num_samples = round(duration * SAMPLE_RATE)
    return Recording(
        id=entry.id,
        sources=[AudioSource(type="file", channels=[0], source=entry.path)],
        sampling_rate=SAMPLE_RATE,
        num_samples=num_samples,
        duration=num_samples / SAMPLE_RATE,
    )


def report_bad_audio(bad: Sequence[str], on_bad_audio: str) -> None:
    """Raise AudioError for bad files, or with "skip" log each and their count."""
    if not bad:
        return
    if on_bad_audio != "skip":
        more = f" (and {len(bad) - 1} more bad file(s))" if len(bad) > 1 else ""
        raise AudioError(f"{bad[0]}{more}; set data.on_bad_audio: skip to leave them out")
    for message in bad:
        log.warning("skipped: %s", message)
    log.warning("skipped %d bad audio file(s)", len(bad))


def write_manifests(
    entries: Sequence[Entry],
    recordings_path: str | os.PathLike,
    supervisions_path: str | os.PathLike | None = None,
    workers: int = 1,
    on_bad_audio: str = "error",
) -> list[str]:
    """Probe `entries` and stream their recordings (and supervisions) to `.jsonl.gz`.

    A file that cannot be probed (unreadable, empty, truncated, wrong rate, multi-channel)
    stops the run naming the file before anything is written, or with on_bad_audio="skip" is
    left out and logged. Returns the skipped files' messages. Supervisions (VoxCeleb) are one
    whole-recording segment per utterance with its speaker. Writes stream (memory grows with
    the entry list only); the recordings manifest is renamed into place last.
    """
    durations = probe_durations([e.path for e in entries], workers)
    bad = [
        d if isinstance(d, str) else f"{e.path}: empty audio"
        for e, d in zip(entries, durations, strict=True)
        if isinstance(d, str) or d <= 0
    ]
    report_bad_audio(bad, on_bad_audio)
    with contextlib.ExitStack() as stack:
        recs = stack.enter_context(_atomic_writer(RecordingSet, recordings_path, stack))
        sups = (
            stack.enter_context(_atomic_writer(SupervisionSet, supervisions_path, stack))
            if supervisions_path is not None
            else None
        )
        for entry, duration in zip(entries, durations, strict=True):
            if isinstance(duration, str) or duration <= 0:
                continue
            recording = _recording(entry, duration)
            recs.write(recording)
            if sups is not None:
                sups.write(
                    SupervisionSegment(id=entry.id, recording_id=entry.id, start=0.0,
                                       duration=recording.duration, speaker=entry.speaker)
                )
    return bad


def _atomic_writer(manifest_type, path: str | os.PathLike, stack: contextlib.ExitStack):
    """A lhotse sequential writer into a temporary file renamed onto `path` on success."""
    tmp = stack.enter_context(atomic_path(path, suffix=".jsonl.gz"))
    return manifest_type.open_writer(tmp)


def write_voxceleb(
    root: str | os.PathLike,
    recordings_path: str | os.PathLike,
    supervisions_path: str | os.PathLike,
    workers: int = 1,
    on_bad_audio: str = "error",
) -> list[str]:
    """Write the recording and supervision manifests of a VoxCeleb root; return skipped files."""
    return write_manifests(
        voxceleb_entries(root), recordings_path, supervisions_path, workers, on_bad_audio
    )


def write_recordings(
    entries: Sequence[Entry],
    path: str | os.PathLike,
    workers: int = 1,
    on_bad_audio: str = "error",
) -> list[str]:
    """Write the recording manifest of MUSAN or RIR entries; return skipped files."""
    return write_manifests(entries, path, None, workers, on_bad_audio)


class TrialsMismatch(ValueError):
    """Trials that name utterances missing from the evaluation manifest (count + first names)."""


def check_trials(
    trial_lists: Mapping[str, str | os.PathLike],
    recordings: str | os.PathLike,
    out: str | os.PathLike,
) -> None:
    """Check that every utterance of every trial list is in `recordings`; write a summary TSV.

    A malformed line stops the run naming its file and line (voxsv.trials.TrialsError); a
    trial naming an utterance that is not in the manifest stops it with the count and the
    first few missing names.
    """
    known = {item["id"] for item in LazyJsonlIterator(recordings)}
    rows = ["name\tpath\ttrials\ttargets\tutterances"]
    for name, path in trial_lists.items():
        trials = read_trials(path)
        utterances = sorted(set(trials.enroll).union(trials.test))
        missing = [u for u in utterances if utterance_id(u) not in known]
        if missing:
            raise TrialsMismatch(
                f"{path} ({name}): {len(missing)} utterance(s) not in {recordings}, first: "
                + ", ".join(missing[:5])
            )
        rows.append(
            f"{name}\t{path}\t{len(trials)}\t{int(trials.labels.sum())}\t{len(utterances)}"
        )
    write_text(out, "\n".join(rows) + "\n")
