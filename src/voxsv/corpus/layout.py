"""Names and text files of the corpus tree, as in the real VoxCeleb, MUSAN and RIRS_NOISES.

Paths: `voxceleb1/wav/idNNNNN/<video>/<nnnnn>.wav` (ids from id10001), VoxCeleb2 dev in
`voxceleb2/dev/aac/...` (ids from id00001, so the two sets are disjoint), trial lists beside
`voxceleb1/wav/` with paths relative to it, `voxceleb1/vox1_meta.csv` (the real tab-separated
columns), MUSAN's `musan/{noise/free-sound,music/fma,speech/librivox}/<kind>-<sub>-NNNN.wav`,
and RIRS_NOISES' `simulated_rirs/<room kind>/RoomNNN/RoomNNN-NNNNN.wav` with Kaldi `rir_list`s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOX1_WAV = "voxceleb1/wav"
VOX2_AAC = "voxceleb2/dev/aac"
MUSAN = "musan"
RIRS = "RIRS_NOISES"
VOX1_META = "voxceleb1/vox1_meta.csv"
TRIAL_FILES = {
    "O": "voxceleb1/veri_test2.txt",
    "E": "voxceleb1/list_test_all2.txt",
    "H": "voxceleb1/list_test_hard2.txt",
}
VOX1_FIRST_ID = 10001
VOX2_FIRST_ID = 1
MUSAN_SUBSETS = {"noise": "free-sound", "music": "fma", "speech": "librivox"}
RIR_ID_PREFIX = {"smallroom": "small", "mediumroom": "medium"}
_VIDEO_CHARS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


@dataclass(frozen=True)
class Utterance:
    """One VoxCeleb-like utterance; `path` is relative to the set's wav/aac root."""

    speaker: str
    gender: str
    video: str
    path: str


def generated_paths(root: str) -> dict[tuple[str, str], str]:
    """The config entries (section, key) -> path that a corpus generated into `root` has."""
    paths = {
        ("paths", "voxceleb1"): f"{root}/{VOX1_WAV}",
        ("paths", "voxceleb2_dev"): f"{root}/{VOX2_AAC}",
        ("paths", "musan"): f"{root}/{MUSAN}",
        ("paths", "rirs"): f"{root}/{RIRS}",
    }
    return paths | {("trials", name): f"{root}/{file}" for name, file in TRIAL_FILES.items()}


def speaker_id(first: int, index: int) -> str:
    """The VoxCeleb-style id of the index-th speaker of a set (`id10001`, ...)."""
    return f"id{first + index:05d}"


def video_ids(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct YouTube-like 11-character video ids."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = "".join(rng.choice(_VIDEO_CHARS, 11))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def utterance_path(speaker: str, video: str, number: int) -> str:
    """`idNNNNN/<video>/<nnnnn>.wav` (numbered from 1 within each video, as in VoxCeleb)."""
    return f"{speaker}/{video}/{number:05d}.wav"


def musan_path(kind: str, index: int) -> str:
    """Path of the index-th MUSAN-like file of `kind` under the corpus root."""
    subset = MUSAN_SUBSETS[kind]
    return f"{MUSAN}/{kind}/{subset}/{kind}-{subset}-{index:04d}.wav"


def rir_path(kind: str, room: int, rir: int) -> str:
    """Path of one RIR under the corpus root (rooms and RIRs numbered from 1)."""
    return f"{RIRS}/simulated_rirs/{kind}/Room{room:03d}/Room{room:03d}-{rir:05d}.wav"


def rir_list_path(kind: str) -> str:
    """Path of the Kaldi `rir_list` of one room kind under the corpus root."""
    return f"{RIRS}/simulated_rirs/{kind}/rir_list"


def rir_list_line(kind: str, room: int, rir: int) -> str:
    """`--rir-id small-Room001-00001 --room-id small-Room001 RIRS_NOISES/...wav` (Kaldi)."""
    room_id = f"{RIR_ID_PREFIX[kind]}-Room{room:03d}"
    return f"--rir-id {room_id}-{rir:05d} --room-id {room_id} {rir_path(kind, room, rir)}"


def make_trials(
    utterances: list[Utterance], count: int, rng: np.random.Generator, same_gender: bool = False
) -> list[tuple[int, str, str]]:
    """Draw about `count` distinct trials, half target (same speaker, different videos).

    Non-targets pair different speakers (of the same gender with `same_gender`, as VoxCeleb1-H
    does). Fewer trials come back when the utterances allow fewer pairs. Lines are sorted by
    enrolment path, as in the real lists.
    """
    speakers = np.array([u.speaker for u in utterances])
    videos = np.array([f"{u.speaker}/{u.video}" for u in utterances])
    genders = np.array([u.gender for u in utterances])
    first, second = np.triu_indices(len(utterances), 1)
    same_speaker = speakers[first] == speakers[second]
    targets = np.flatnonzero(same_speaker & (videos[first] != videos[second]))
    impostor = ~same_speaker
    if same_gender:
        impostor &= genders[first] == genders[second]
    nontargets = np.flatnonzero(impostor)
    n_target = min(count // 2, len(targets))
    chosen = [
        (1, rng.choice(targets, n_target, replace=False)),
        (0, rng.choice(nontargets, min(count - n_target, len(nontargets)), replace=False)),
    ]
    trials = []
    for label, pairs in chosen:
        swap = rng.random(len(pairs)) < 0.5
        for pair, flip in zip(pairs, swap, strict=True):
            a, b = utterances[first[pair]].path, utterances[second[pair]].path
            trials.append((label, *((b, a) if flip else (a, b))))
    return sorted(trials, key=lambda t: (t[1], t[2]))


def format_trials(trials: list[tuple[int, str, str]]) -> str:
    """The VoxCeleb trial-list text: one `<label> <enrol> <test>` line per trial."""
    return "".join(f"{label} {a} {b}\n" for label, a, b in trials)


def format_vox1_meta(rows: list[tuple[str, str, str]]) -> str:
    """vox1_meta.csv text from (speaker id, gender m|f, set dev|test) rows, real columns."""
    header = "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
    return header + "".join(
        f"{spk}\tSynthetic_{spk[2:]}\t{gender}\tSynthetic\t{subset}\n"
        for spk, gender, subset in rows
    )
