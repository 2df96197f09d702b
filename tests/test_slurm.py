"""Real-SLURM test: `snakemake --profile slurm` on a local cluster, as README tells a user.

A session fixture installs SLURM with apt (tests/slurm/install.sh), starts a single-node cluster
in a fresh directory under /tmp (tests/slurm/start-slurm.sh) and always stops it again
(stop-slurm.sh), so that no daemon and no config file is left behind. It needs root and apt:
without them the tests are skipped locally and fail in CI (CI=true). `--skip-slurm` skips them
locally. VOXSV_SLURM_DBD=0 runs the cluster without slurmdbd/MariaDB (default: with).

The embedded default runs once per session (conftest's `default_run`, locally). This test takes
a copy of that run's data stage next to a copy of the workflow, installs the example profile with
README's own command under a temporary HOME, and runs literally `snakemake --profile slurm
<target>` there: the pre-training of one model, scancel-ed once it has written a checkpoint,
then its cosine result table, whose rerun resumes the training and must reproduce the local
run's table byte for byte. Every job of both runs is a real SLURM job.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from workflow_support import copy_data_stage, planned_jobs

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "slurm"
EXAMPLE_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "config", "profiles", "envs")
INSTALL_STEP = re.compile(r"<!-- slurm-profile-install -->\n```bash\n(.+?)\n```", re.DOTALL)
WITH_DBD = os.environ.get("VOXSV_SLURM_DBD", "1")

# rules/train.smk: rule train makes exp/{alias}/{stage}/model.pt (stage: pretrain or lmft),
# logging to logs/train/{alias}/{stage}.log, and resumes from exp/{alias}/{stage}/checkpoints/
TRAIN_RULE = "train"
TRAIN_JOB = re.compile(rf"rule_{TRAIN_RULE}_wildcards_.+_pretrain")  # its squeue comment (%k)
# the scancel test retrains only the first (fastest) demo model: the rest is covered elsewhere
SCANCEL_MODEL = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["default_models"][0]
PRETRAINED = f"exp/{SCANCEL_MODEL}/pretrain/model.pt"
RESULT = f"results/{SCANCEL_MODEL}_pretrain_cosine.tsv"  # the least that follows training
CHECKPOINTS = f"exp/{SCANCEL_MODEL}/pretrain/checkpoints/*.pt"
TRAIN_LOGS = f"logs/train/{SCANCEL_MODEL}/pretrain.log"
LOCAL_RULES = {"all"}  # rules without an action, which Snakemake never submits
RESUMED = re.compile(r"resum\w* .*step (\d+)")  # what the training prints when it resumes

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
JOB_HEADER = re.compile(r"^(local)?rule (\w+):", re.MULTILINE)
FINISHED = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)", re.MULTILINE)
RUN_TIMEOUT_S = 1800  # one snakemake run; `timeout -k 10` ends a hung one (e.g. a missed status)
CHECKPOINT_WAIT_S = 1200  # until the training job runs and has written a checkpoint


def _cannot_run() -> str | None:
    """Why this machine cannot host the test cluster, or None when it can."""
    if os.geteuid() != 0:
        return "the real-SLURM test needs root (it starts slurmctld, slurmd and munged)"
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        return "the real-SLURM test needs apt-get to install slurm"
    return None


def _script(name: str, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    """Run one of tests/slurm/*.sh, capturing its output."""
    return subprocess.run(
        ["bash", str(SCRIPTS / name)], env=env, capture_output=True, text=True, timeout=timeout
    )


def _running_daemons(base: Path) -> list[str]:
    """The daemons started under base that still run, as 'name:pid'."""
    left = []
    for pidfile in (base / "run").glob("*.pid"):
        pid = pidfile.read_text().strip()
        stat = Path(f"/proc/{pid}/stat")
        fields = stat.read_text().rsplit(")", 1) if stat.exists() else []
        # "pid (comm) state ...": a zombie has ended and only waits for PID 1 to reap it
        if fields and fields[0].endswith(f"({pidfile.stem}") and fields[1].split()[0] != "Z":
            left.append(f"{pidfile.stem}:{pid}")
    return left


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running single-node cluster (its base directory); stopped and removed afterwards."""
    problem = _cannot_run()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    # not under tmp_path_factory: munged needs every directory above its socket to be o+x
    base = Path(tempfile.mkdtemp(prefix="voxsv-slurm-"))
    env = {**os.environ, "BASE": str(base), "WITH_DBD": WITH_DBD}
    try:
        install = _script("install.sh", env, timeout=900)
        assert install.returncode == 0, install.stdout + install.stderr
        start = _script("start-slurm.sh", env, timeout=180)
        assert start.returncode == 0, start.stdout + start.stderr
        yield base
    finally:
        stop = _script("stop-slurm.sh", env, timeout=120)
        left = _running_daemons(base)
        link = Path("/etc/slurm/slurm.conf")
        ours = link.is_symlink() and os.readlink(link).startswith(str(base))
        if (base / "log").is_dir():  # keep the daemons' logs for a post-mortem
            shutil.copytree(base / "log", tmp_path_factory.mktemp("slurm-logs"), dirs_exist_ok=True)
        shutil.rmtree(base, ignore_errors=True)
        assert stop.returncode == 0 and not left, f"daemons left: {left}\n{stop.stderr}"
        assert not ours, f"{link} left behind"


def _run(cmd: list[str]) -> str:
    """stdout of a quick command that must succeed."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout


def _env(home: Path) -> dict[str, str]:
    """Environment of a user whose HOME is `home` (for ~/.config/snakemake), this venv first
    on PATH, for snakemake and (sbatch --export=ALL) its jobs."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "HOME": str(home), "PATH": path, "OMP_NUM_THREADS": "1"}


def _snakemake_cmd(*targets: str) -> list[str]:
    """README's command with the installed profile; `timeout -k 10` ends a hung run."""
    return ["timeout", "-k", "10", str(RUN_TIMEOUT_S), "snakemake", "--profile", "slurm", *targets]


def _training_jobs(workdir: Path) -> set[str]:
    """Ids of the running pre-training jobs, once one of them has written a checkpoint."""
    if not list(workdir.glob(CHECKPOINTS)):
        return set()
    queue = _run(["squeue", "-h", "-o", "%i %T %k"]).splitlines()
    fields = [line.split(maxsplit=2) for line in queue]
    return {f[0] for f in fields if len(f) == 3 and f[1] == "RUNNING" and TRAIN_JOB.fullmatch(f[2])}


def _cancel_training(workdir: Path, env: dict[str, str], log: Path) -> tuple[int, set[str]]:
    """Run the pre-training, scancel every attempt (retries too) until snakemake gives up."""
    cancelled: set[str] = set()
    with log.open("w") as out:
        run = subprocess.Popen(
            _snakemake_cmd(PRETRAINED), cwd=workdir, env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + CHECKPOINT_WAIT_S
            while run.poll() is None:
                assert cancelled or time.monotonic() < deadline, "no training checkpoint"
                for job in _training_jobs(workdir) - cancelled:
                    subprocess.run(["scancel", job], timeout=60)  # fails if it just ended
                    cancelled.add(job)
                time.sleep(1)
        finally:
            if run.poll() is None:
                run.kill()
    return run.wait(), cancelled


@pytest.fixture(scope="module")
def slurm_runs(slurm_cluster: Path, default_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """The profile installed as README says, a scancel-ed pre-training and its rerun."""
    root = tmp_path_factory.mktemp("slurm")
    workdir = copy_data_stage(default_run, root / "work")
    for name in WORKFLOW_FILES:  # the user's checkout of the workflow, where they run it
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, workdir / name)
    env = _env(root / "home")
    (root / "home").mkdir()
    (install,) = INSTALL_STEP.findall((REPO / "README.md").read_text())
    subprocess.run(["bash", "-c", install], cwd=workdir, env=env, check=True, timeout=60)
    rc, cancelled = _cancel_training(workdir, env, root / "cancelled.log")
    log = (root / "cancelled.log").read_text()
    for old in workdir.glob(TRAIN_LOGS):  # so that the logs hold the rerun's output only
        old.rename(old.with_suffix(".cancelled"))
    with (root / "rerun.log").open("w") as out:
        rerun_rc = subprocess.call(
            _snakemake_cmd(RESULT), cwd=workdir, env=env, stdout=out, stderr=out
        )
    return {
        "home": root / "home", "workdir": workdir, "cancel_rc": rc, "cancelled": cancelled,
        "cancel_log": log, "rerun_rc": rerun_rc, "rerun_log": (root / "rerun.log").read_text(),
    }  # fmt: skip


def test_profile_is_installed_as_readme_says(slurm_runs: dict) -> None:
    installed = slurm_runs["home"] / ".config" / "snakemake" / "slurm" / "config.yaml"
    assert installed.read_bytes() == EXAMPLE_PROFILE.read_bytes()


def test_scancel_fails_the_run_and_the_rerun_resumes_training(slurm_runs: dict) -> None:
    """A training job cancelled by scancel fails the run; the rerun resumes from its checkpoint
    and redoes nothing that had finished (the data stage least of all)."""
    log, rc, cancelled = slurm_runs["cancel_log"], slurm_runs["cancel_rc"], slurm_runs["cancelled"]
    assert cancelled, "snakemake ended before a training checkpoint:\n" + log[-5000:]
    assert rc not in (0, 124, 137), f"rc={rc} (0: cancel missed, 124/137: hung)\n{log[-5000:]}"
    assert log.count("SLURM status is: 'CANCELLED'") == len(cancelled)
    assert planned_jobs(log) == {TRAIN_RULE: 1}  # the copied data stage is up to date
    assert Counter(FINISHED.findall(log))[TRAIN_RULE] == 0
    rerun = slurm_runs["rerun_log"]
    assert slurm_runs["rerun_rc"] == 0, rerun[-5000:]
    assert planned_jobs(rerun)[TRAIN_RULE] == 1
    assert not {"augment_plan", "fbank", "crop_store", "generate_corpus"} & set(planned_jobs(rerun))
    output = "".join(p.read_text() for p in slurm_runs["workdir"].glob(TRAIN_LOGS))
    steps = [int(step) for step in RESUMED.findall(output)]
    assert steps and min(steps) > 0, f"the rerun did not resume ({TRAIN_LOGS}):\n{output[:3000]}"


def test_every_job_goes_through_sbatch(slurm_runs: dict) -> None:
    """Every planned job of the rerun ran, each non-local one as its own SLURM job."""
    log = slurm_runs["rerun_log"]
    assert slurm_runs["rerun_rc"] == 0, log[-5000:]
    ran = JOB_HEADER.findall(log)
    assert Counter(rule for _, rule in ran) == planned_jobs(log)
    local = {rule for is_local, rule in ran if is_local}
    remote = [rule for is_local, rule in ran if not is_local]
    assert local <= LOCAL_RULES
    assert {TRAIN_RULE, "embed", "score", "result_table"} <= set(remote)
    assert len(SUBMITTED.findall(log)) == len(remote)
    assert len(FINISHED.findall(log)) == len(ran)


def test_resumed_result_equals_the_local_run(slurm_runs: dict, default_run: Path) -> None:
    """Resumed on SLURM after scancel, the result table is the local run's, byte for byte."""
    assert slurm_runs["rerun_rc"] == 0, slurm_runs["rerun_log"][-5000:]
    assert (slurm_runs["workdir"] / RESULT).read_bytes() == (default_run / RESULT).read_bytes()


def test_srun_and_sbatch(slurm_cluster: Path, tmp_path: Path) -> None:
    """The cluster runs a two-task step and a batch job (and accounts for it with slurmdbd)."""
    assert _run(["srun", "-n2", "hostname"]).split() == [os.uname().nodename] * 2
    out = tmp_path / "job.out"
    _run(["sbatch", "--wait", "-o", str(out), "--wrap", "echo hello from $SLURM_JOB_ID"])
    assert out.read_text().startswith("hello from ")
    if WITH_DBD == "1":
        job = out.read_text().split()[-1]
        assert "COMPLETED" in _run(["sacct", "-X", "-n", "-j", job, "-o", "State"])
