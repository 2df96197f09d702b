"""Learning-rate and margin schedules, step by step against SPEC section 4's formulas."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from voxsv.train.schedules import Schedule
from voxsv.train.settings import RunSettings

CONFIG = Path(__file__).parents[1] / "config" / "config.yaml"


def spec_lr(step: int, e: int, base: float) -> float:
    """SPEC: base x step / 3E for step <= 3E; base to 13E; then base x 0.5^ceil((step - 13E)/E)."""
    if step <= 3 * e:
        return base * step / (3 * e)
    if step <= 13 * e:
        return base
    return base * 0.5 ** math.ceil((step - 13 * e) / e)


def spec_margin(step: int, e: int, full: float) -> float:
    """SPEC (`zero_linear_constant`, staircase): 0 to 3E, m x ceil((step - 3E)/E)/10 to 13E."""
    if step <= 3 * e:
        return 0.0
    if step <= 13 * e:
        return full * math.ceil((step - 3 * e) / e) / 10
    return full


def recipe(e: int, base: float, margin: float = 0.2) -> Schedule:
    return Schedule(base_lr=base, steps_per_epoch=e, warmup_epochs=3, constant_until_epoch=13,
                    margin=margin, margin_full_epoch=13)


@pytest.mark.parametrize("e", [1, 2, 6, 5332])
def test_pretraining_schedule_matches_spec_at_every_step(e: int) -> None:
    base = 0.08 * 1024 / 128
    sched = recipe(e, base)
    for step in range(23 * e):
        assert sched.lr(step) == pytest.approx(spec_lr(step, e, base), rel=1e-12, abs=0)
        assert sched.margin_at(step) == pytest.approx(spec_margin(step, e, 0.2), abs=1e-12)


def test_full_recipe_landmarks() -> None:
    """SPEC's numbers: base 0.64, E = 5,460,045 // 1,024 = 5,332, 122,636 steps."""
    e = 5_460_045 // 1024
    assert e == 5332
    sched = recipe(e, 0.08 * 1024 / 128)
    assert sched.lr(0) == 0.0
    assert sched.lr(3 * e) == pytest.approx(0.64)
    assert sched.lr(13 * e) == pytest.approx(0.64)
    assert sched.lr(13 * e + 1) == pytest.approx(0.32)
    assert sched.lr(14 * e + 1) == pytest.approx(0.16)
    assert sched.lr(23 * e - 1) == pytest.approx(0.64 / 2**10)
    assert sched.margin_at(3 * e) == 0.0
    assert sched.margin_at(3 * e + 1) == pytest.approx(0.02)
    assert sched.margin_at(12 * e) == pytest.approx(0.18)
    assert sched.margin_at(12 * e + 1) == pytest.approx(0.2)
    assert sched.margin_at(23 * e - 1) == pytest.approx(0.2)


@pytest.mark.parametrize("e", [1, 3, 5332])
def test_every_boundary_step_matches_spec(e: int) -> None:
    """At and right after each boundary the rate and margin are SPEC's, written out by hand."""
    base, m = 0.64, 0.2
    sched = recipe(e, base, m)
    expected = {  # step: (lr, margin), straight from SPEC section 4's table
        3 * e: (base, 0.0),
        3 * e + 1: (base, m / 10),
        12 * e: (base, m * 9 / 10),
        12 * e + 1: (base, m),
        13 * e: (base, m),
        13 * e + 1: (base / 2, m),
        14 * e: (base / 2, m),
        14 * e + 1: (base / 4, m),
        23 * e: (base / 2**10, m),
    }
    for step, (lr, margin) in expected.items():
        assert sched.lr(step) == pytest.approx(lr, rel=1e-12), step
        assert sched.margin_at(step) == pytest.approx(margin, rel=1e-12, abs=0), step
    assert sched.lr(1) == pytest.approx(base / (3 * e))


def test_lmft_schedule_is_constant() -> None:
    """LMFT: lr base/128 and margin 0.4 from its first step."""
    lmft = Schedule(base_lr=0.64, steps_per_epoch=5332, warmup_epochs=0,
                    constant_until_epoch=None, margin=0.4, margin_full_epoch=0, lr_divisor=128)
    for step in (0, 1, 5331):
        assert lmft.lr(step) == pytest.approx(0.005)
        assert lmft.margin_at(step) == pytest.approx(0.4)


def _settings(stage: str) -> RunSettings:
    cfg = yaml.safe_load(CONFIG.read_text())
    return RunSettings.from_dict({
        "alias": "m", "stage": stage, "model": {"arch": "tdnn"}, "num_mel_bins": 80,
        "cmn_window": 300, "dither": 1.0, "train": cfg["train"], "archives": [], "init": "x.pt",
        "run_dir": "exp/m/" + stage, "out": "exp/m/" + stage + "/model.pt",
    })


def test_embedded_default_runs_the_recipe_schedule_in_miniature() -> None:
    """The config's pre-training stage is SPEC's 23 epochs with only the epoch length shrunk."""
    s = _settings("pretrain")
    stage = s.stage_cfg
    assert (stage["epochs"], stage["warmup_epochs"], stage["constant_until_epoch"]) == (23, 3, 13)
    e = s.steps_per_epoch(num_samples=10**6, init_epoch_samples=None)
    base = stage["lr_per_128"] * s.global_batch / 128
    sched = Schedule(base, e, 3, 13, stage["margin"], 13)
    for step in range(23 * e):
        assert sched.lr(step) == pytest.approx(spec_lr(step, e, base), rel=1e-12, abs=0)
        assert sched.margin_at(step) == pytest.approx(spec_margin(step, e, 0.2), abs=1e-12)


def test_steps_per_epoch_from_dataset_size() -> None:
    """steps_per_epoch null: E = utterances x copies / global batch; LMFT keeps that epoch."""
    s = _settings("pretrain")
    s.stage_cfg["steps_per_epoch"] = None
    assert s.steps_per_epoch(5_460_045, None) == 5_460_045 // s.global_batch
    lmft = _settings("lmft")
    assert lmft.steps_per_epoch(1_092_009, 5332 * 1024) == 5332 * 1024 // lmft.global_batch
