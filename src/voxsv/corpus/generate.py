"""Write the whole mini corpus under one root, deterministically from a seed.

Every random choice comes from its own stream `[seed, domain, stream, indices...]`, so a file
depends only on the seed and its own position: the same seed gives byte-identical files, and
growing one part (more speakers, more files) leaves the others unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from voxsv.atomic import write_text
from voxsv.audio import write_wav
from voxsv.corpus import layout
from voxsv.corpus.channel import record
from voxsv.corpus.rirs import ROOM_KINDS, draw_room, impulse_response
from voxsv.corpus.sizes import CorpusSize
from voxsv.corpus.sources import SOURCES
from voxsv.corpus.speakers import draw_session, draw_speakers
from voxsv.corpus.speech import synthesize_speech

log = logging.getLogger(__name__)

# Domains of the random streams.
VOX1, VOX2, MUSAN, RIRS, TRIALS = 1, 2, 3, 4, 5
# Streams within a speaker set (SPEAKER_STREAM = 0 is in voxsv.corpus.speakers).
SESSION_STREAM, UTTERANCE_STREAM, VIDEO_STREAM = 1, 2, 3
TOP_LEVEL = ("voxceleb1", "voxceleb2", layout.MUSAN, layout.RIRS)


def stream(seed: int, *keys: int) -> np.random.Generator:
    """The generator of one random stream."""
    return np.random.default_rng([seed, *keys])


def generate_corpus(root: str | Path, seed: int, size: CorpusSize) -> None:
    """Synthesise VoxCeleb1/2-like speech, trial lists, MUSAN- and RIRS_NOISES-like trees."""
    root = Path(root)
    _check_empty(root)
    vox1 = write_speaker_set(
        root / layout.VOX1_WAV,
        seed,
        VOX1,
        layout.VOX1_FIRST_ID,
        (size.vox1_speakers, size.vox1_videos, size.vox1_utterances),
        size,
    )
    write_speaker_set(
        root / layout.VOX2_AAC,
        seed,
        VOX2,
        layout.VOX2_FIRST_ID,
        (size.vox2_speakers, size.vox2_videos, size.vox2_utterances),
        size,
    )
    write_trial_lists(root, seed, vox1, size)
    write_musan(root, seed, size)
    write_rirs(root, seed, size)


def _check_empty(root: Path) -> None:
    """Refuse to write over an existing corpus: nothing already produced is overwritten."""
    for name in TOP_LEVEL:
        part = root / name
        if part.exists() and any(p.is_file() for p in part.rglob("*")):
            raise FileExistsError(f"{part} already holds files; remove it to generate anew")


def write_speaker_set(
    wav_root: Path,
    seed: int,
    domain: int,
    first_id: int,
    counts: tuple[int, int, int],
    size: CorpusSize,
) -> list[layout.Utterance]:
    """Write speakers x videos x utterances wavs under `wav_root`; return their records."""
    n_speakers, n_videos, n_utterances = counts
    utterances = []
    for s, speaker in enumerate(draw_speakers(seed, domain, n_speakers)):
        spk = layout.speaker_id(first_id, s)
        videos = layout.video_ids(stream(seed, domain, VIDEO_STREAM, s), n_videos)
        for v, video in enumerate(videos):
            session = draw_session(stream(seed, domain, SESSION_STREAM, s, v))
            for u in range(n_utterances):
                rng = stream(seed, domain, UTTERANCE_STREAM, s, v, u)
                seconds = rng.uniform(size.min_seconds, size.max_seconds)
                dry = synthesize_speech(
                    speaker,
                    seconds,
                    rng,
                    session.f0_shift_st,
                    session.rate_scale,
                    session.tilt_shift_db,
                )
                path = layout.utterance_path(spk, video, u + 1)
                write_wav(wav_root / path, record(session, dry, rng))
                utterances.append(layout.Utterance(spk, speaker.gender, video, path))
    log.info("wrote %d utterances of %d speakers under %s", len(utterances), n_speakers, wav_root)
    return utterances


def write_trial_lists(
    root: Path, seed: int, vox1: list[layout.Utterance], size: CorpusSize
) -> None:
    """Write O (test speakers), E (all speakers), H (same gender) lists and vox1_meta.csv."""
    speakers = sorted({u.speaker for u in vox1})
    test = set(speakers[len(speakers) - size.vox1_test_speakers :])
    test_utterances = [u for u in vox1 if u.speaker in test]
    lists = {
        "O": layout.make_trials(test_utterances, size.o_trials, stream(seed, TRIALS, 0)),
        "E": layout.make_trials(vox1, size.e_trials, stream(seed, TRIALS, 1)),
        "H": layout.make_trials(vox1, size.h_trials, stream(seed, TRIALS, 2), same_gender=True),
    }
    for name, trials in lists.items():
        write_text(root / layout.TRIAL_FILES[name], layout.format_trials(trials))
    genders = {u.speaker: u.gender for u in vox1}
    rows = [(s, genders[s], "test" if s in test else "dev") for s in speakers]
    write_text(root / layout.VOX1_META, layout.format_vox1_meta(rows))


def write_musan(root: Path, seed: int, size: CorpusSize) -> None:
    """Write `musan_files` noise, music and speech recordings."""
    for k, (kind, generate) in enumerate(SOURCES.items()):
        for i in range(size.musan_files):
            rng = stream(seed, MUSAN, k, i)
            seconds = rng.uniform(size.musan_min_seconds, size.musan_max_seconds)
            write_wav(root / layout.musan_path(kind, i), generate(seconds, rng))


def write_rirs(root: Path, seed: int, size: CorpusSize) -> None:
    """Write `rir_rooms` rooms x `rirs_per_room` RIRs per room kind, and each kind's rir_list."""
    for k, kind in enumerate(ROOM_KINDS):
        lines = []
        for r in range(1, size.rir_rooms + 1):
            room = draw_room(kind, stream(seed, RIRS, k, r))
            for j in range(1, size.rirs_per_room + 1):
                rir = impulse_response(room, stream(seed, RIRS, k, r, j))
                write_wav(root / layout.rir_path(kind, r, j), rir)
                lines.append(layout.rir_list_line(kind, r, j) + "\n")
        write_text(root / layout.rir_list_path(kind), "".join(lines))
