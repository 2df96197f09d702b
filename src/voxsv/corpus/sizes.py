"""How big the synthesised corpus is: counts, durations, trial-list lengths, named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CorpusSize:
    """Sizes of every part of the corpus; field names are the keys of config `corpus:`."""

    vox2_speakers: int = field(
        default=160, metadata={"help": "VoxCeleb2-dev-like (training) speakers"}
    )
    vox2_videos: int = field(
        default=2, metadata={"help": "videos (sessions) per VoxCeleb2-like speaker"}
    )
    vox2_utterances: int = field(
        default=3, metadata={"help": "utterances per VoxCeleb2-like video"}
    )
    vox1_speakers: int = field(
        default=24, metadata={"help": "VoxCeleb1-like (evaluation) speakers, dev + test"}
    )
    vox1_test_speakers: int = field(
        default=12, metadata={"help": "the last ones, the O list's test speakers"}
    )
    vox1_videos: int = field(
        default=3, metadata={"help": "videos per VoxCeleb1-like speaker (>= 2)"}
    )
    vox1_utterances: int = field(
        default=3, metadata={"help": "utterances per VoxCeleb1-like video"}
    )
    min_seconds: float = field(default=2.0, metadata={"help": "shortest VoxCeleb-like utterance"})
    max_seconds: float = field(default=6.0, metadata={"help": "longest VoxCeleb-like utterance"})
    o_trials: int = field(
        default=300, metadata={"help": "trials of veri_test2.txt (O), about half target"}
    )
    e_trials: int = field(default=400, metadata={"help": "trials of list_test_all2.txt (E)"})
    h_trials: int = field(
        default=400, metadata={"help": "trials of list_test_hard2.txt (H, same-gender non-targets)"}
    )
    musan_files: int = field(
        default=8, metadata={"help": "files in each of musan/noise, music, speech"}
    )
    musan_min_seconds: float = field(default=5.0, metadata={"help": "shortest MUSAN-like file"})
    musan_max_seconds: float = field(default=15.0, metadata={"help": "longest MUSAN-like file"})
    rir_rooms: int = field(default=3, metadata={"help": "rooms per kind (smallroom, mediumroom)"})
    rirs_per_room: int = field(default=3, metadata={"help": "RIRs (source positions) per room"})

    def __post_init__(self) -> None:
        """Reject sizes that cannot make a corpus with target and non-target trials."""
        for size in dataclasses.fields(self):
            if getattr(self, size.name) <= 0:
                raise ValueError(f"corpus size {size.name} must be positive")
        if not 2 <= self.vox1_test_speakers <= self.vox1_speakers:
            raise ValueError("vox1_test_speakers must be between 2 and vox1_speakers")
        if self.vox1_videos < 2:
            raise ValueError("vox1_videos must be >= 2 (target trials pair different videos)")
        if self.vox1_speakers < 4:
            raise ValueError("vox1_speakers must be >= 4 (H needs two speakers of each gender)")
        if self.min_seconds > self.max_seconds or self.musan_min_seconds > self.musan_max_seconds:
            raise ValueError("a minimum duration exceeds its maximum")


PRESETS: dict[str, CorpusSize] = {
    # The embedded default (config/config.yaml): the whole pipeline in minutes on 2 cores.
    "mini": CorpusSize(),
    # A smoke-test corpus: every file kind, a few seconds to generate.
    "tiny": CorpusSize(
        vox2_speakers=4,
        vox2_videos=2,
        vox2_utterances=2,
        vox1_speakers=4,
        vox1_test_speakers=2,
        vox1_videos=2,
        vox1_utterances=2,
        min_seconds=1.0,
        max_seconds=2.0,
        o_trials=8,
        e_trials=12,
        h_trials=8,
        musan_files=2,
        musan_min_seconds=2.0,
        musan_max_seconds=3.0,
        rir_rooms=1,
        rirs_per_room=2,
    ),
}
