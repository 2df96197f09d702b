"""Real-SLURM test: the embedded default through `snakemake --profile` on a local cluster.

A session fixture installs SLURM with apt (tests/slurm/install.sh), starts a single-node cluster
in a fresh directory under /tmp (tests/slurm/start-slurm.sh) and always stops it again
(stop-slurm.sh), so that no daemon and no config file is left behind. It needs root and apt:
without them the tests are skipped locally and fail in CI (CI=true). `--skip-slurm` skips them
locally. VOXSV_SLURM_DBD=0 runs the cluster without slurmdbd/MariaDB (default: with).
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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SCRIPTS = REPO / "tests" / "slurm"
EXAMPLE_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
WITH_DBD = os.environ.get("VOXSV_SLURM_DBD", "1")

# rules/train.smk: rule train makes exp/{alias}/{stage}/model.pt (stage: pretrain or lmft),
# logging to logs/train/{alias}/{stage}.log, and resumes from exp/{alias}/{stage}/checkpoints/
TRAIN_RULE = "train"
TRAIN_JOB = re.compile(rf"rule_{TRAIN_RULE}_wildcards_.+_pretrain")  # its squeue comment (%k)
# the scancel test retrains only the first (fastest) demo model: the rest is covered elsewhere
SCANCEL_MODEL = next(iter(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["models"]))
MODELS = f"exp/{SCANCEL_MODEL}/pretrain/model.pt"
CHECKPOINTS = f"exp/{SCANCEL_MODEL}/pretrain/checkpoints/*.pt"
TRAIN_LOGS = f"logs/train/{SCANCEL_MODEL}/pretrain.log"
LOCAL_RULES = {"all"}  # rules without an action, which Snakemake never submits
RESUMED = re.compile(r"resum\w* .*step (\d+)")  # what the training prints when it resumes

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
JOB_HEADER = re.compile(r"^(local)?rule (\w+):", re.MULTILINE)
JOB_STATS = re.compile(r"^Job stats:\n.*?\n-+ +-+\n(.*?)^total +\d+$", re.MULTILINE | re.DOTALL)
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


@pytest.fixture(scope="session")
def profile(slurm_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example profile, pointed at this cluster's partition and made quick to poll."""
    config = yaml.safe_load(EXAMPLE_PROFILE.read_text())
    partition = _run(["sinfo", "-h", "-o", "%P"]).split()[0].rstrip("*")
    config["default-resources"]["slurm_partition"] = partition
    config["slurm-init-seconds-before-status-checks"] = 2  # MinJobAge=300 >= 3 x 2
    config["latency-wait"] = 5
    config["jobs"] = 8
    directory = tmp_path_factory.mktemp("profile")
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    return directory


def _run(cmd: list[str]) -> str:
    """stdout of a quick command that must succeed."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout


def _snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """The command line of one snakemake run of the repository's Snakefile in workdir."""
    return [
        "timeout", "-k", "10", str(RUN_TIMEOUT_S),
        sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
        *args,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    """Environment for snakemake and (sbatch --export=ALL) its jobs: this venv first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "OMP_NUM_THREADS": "1"}


def _snakemake(workdir: Path, log: Path, *args: str) -> tuple[int, str]:
    """Run snakemake to the end; its exit status and combined output (also kept in log)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        rc = subprocess.call(
            _snakemake_cmd(workdir, *args), cwd=workdir, env=_env(), stdout=out, stderr=out
        )
    return rc, log.read_text()


def _plan(log: str) -> Counter[str]:
    """The jobs per rule that a snakemake run planned (its first 'Job stats' table)."""
    match = JOB_STATS.search(log)
    assert match, "no 'Job stats' table in the snakemake output"
    return Counter({rule: int(n) for rule, n in (line.split() for line in match[1].splitlines())})


def _tables(workdir: Path) -> dict[str, str]:
    """The text of every results/*.tsv, by file name."""
    return {p.name: p.read_text() for p in sorted((workdir / "results").glob("*.tsv"))}


@pytest.fixture(scope="module")
def slurm_run(profile: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The embedded default run once through the profile (after a dry run of the same plan)."""
    root = tmp_path_factory.mktemp("slurm-run")
    workdir = root / "work"
    rc_dry, dry = _snakemake(workdir, root / "dry.log", "--profile", str(profile), "-n")
    assert rc_dry == 0, dry[-3000:]
    started = time.monotonic()
    rc, log = _snakemake(workdir, root / "run.log", "--profile", str(profile))
    return {
        "workdir": workdir,
        "rc": rc,
        "log": log,
        "planned": _plan(dry),
        "seconds": time.monotonic() - started,
    }


def test_srun_and_sbatch(slurm_cluster: Path, tmp_path: Path) -> None:
    """The cluster runs a two-task step and a batch job (and accounts for it with slurmdbd)."""
    assert _run(["srun", "-n2", "hostname"]).split() == [os.uname().nodename] * 2
    out = tmp_path / "job.out"
    _run(["sbatch", "--wait", "-o", str(out), "--wrap", "echo hello from $SLURM_JOB_ID"])
    assert out.read_text().startswith("hello from ")
    if WITH_DBD == "1":
        job = out.read_text().split()[-1]
        assert "COMPLETED" in _run(["sacct", "-X", "-n", "-j", job, "-o", "State"])


def test_every_job_goes_through_sbatch(slurm_run: dict) -> None:
    """Every planned job of the embedded default ran, each non-local one as its own SLURM job."""
    log = slurm_run["log"]
    assert slurm_run["rc"] == 0, log[-5000:]
    ran = JOB_HEADER.findall(log)
    assert Counter(rule for _, rule in ran) == slurm_run["planned"]
    local = {rule for is_local, rule in ran if is_local}
    remote = [rule for is_local, rule in ran if not is_local]
    assert local <= LOCAL_RULES
    assert TRAIN_RULE in remote
    assert len(SUBMITTED.findall(log)) == len(remote)
    assert len(FINISHED.findall(log)) == len(ran)


def test_results_match_a_local_run(slurm_run: dict, default_run: Path) -> None:
    """The SLURM run's result tables equal those of the local run of the end-to-end tests."""
    assert slurm_run["rc"] == 0, slurm_run["log"][-5000:]
    local = _tables(default_run)
    assert local, "the embedded default wrote no results/*.tsv"
    assert _tables(slurm_run["workdir"]) == local


def _without_training(source: Path) -> Callable[[str, list[str]], list[str]]:
    """A copytree filter that drops the training outputs and all after them, and old job logs."""
    dropped = {source: {"exp", "results", "logs"}, source / ".snakemake": {"slurm_logs", "locks"}}
    return lambda d, names: [n for n in names if n in dropped.get(Path(d), ())]


def _training_jobs(workdir: Path) -> set[str]:
    """Ids of the running pre-training jobs, once one of them has written a checkpoint."""
    if not list(workdir.glob(CHECKPOINTS)):
        return set()
    queue = _run(["squeue", "-h", "-o", "%i %T %k"]).splitlines()
    fields = [line.split(maxsplit=2) for line in queue]
    return {f[0] for f in fields if len(f) == 3 and f[1] == "RUNNING" and TRAIN_JOB.fullmatch(f[2])}


def _cancel_training(
    workdir: Path, log: Path, profile: Path, targets: list[str]
) -> tuple[int, set[str]]:
    """Run snakemake, scancel every pre-training attempt (retries too) until it gives up."""
    cancelled: set[str] = set()
    with log.open("w") as out:
        run = subprocess.Popen(
            _snakemake_cmd(workdir, "--profile", str(profile), *targets),
            cwd=workdir, env=_env(), stdout=out, stderr=out,
        )  # fmt: skip
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


def test_scancel_then_rerun_resumes_training(
    slurm_run: dict, profile: Path, tmp_path: Path
) -> None:
    """A training job cancelled by scancel fails the run; the rerun resumes from its checkpoint."""
    assert slurm_run["rc"] == 0, slurm_run["log"][-5000:]
    workdir = tmp_path / "work"
    # the prepared corpus and features of the first run (with their metadata), without training
    shutil.copytree(slurm_run["workdir"], workdir, ignore=_without_training(slurm_run["workdir"]))
    # only the pre-trained models are asked for: what comes after training is covered above
    targets = [str(p.relative_to(slurm_run["workdir"])) for p in slurm_run["workdir"].glob(MODELS)]
    assert targets, f"the embedded default made no {MODELS}"
    rc, cancelled = _cancel_training(workdir, tmp_path / "cancelled.log", profile, targets)
    log = (tmp_path / "cancelled.log").read_text()
    assert cancelled, "snakemake ended before a training checkpoint:\n" + log[-5000:]
    assert rc not in (0, 124, 137), f"rc={rc} (0: cancel missed, 124/137: hung)\n{log[-5000:]}"
    assert log.count("SLURM status is: 'CANCELLED'") == len(cancelled)
    finished = Counter(FINISHED.findall(log))
    assert finished[TRAIN_RULE] < _plan(log)[TRAIN_RULE]

    for old in workdir.glob(TRAIN_LOGS):  # so that the logs hold the rerun's output only
        old.rename(old.with_suffix(".cancelled"))
    rc, rerun = _snakemake(workdir, tmp_path / "rerun.log", "--profile", str(profile), *targets)
    assert rc == 0, rerun[-5000:]
    assert _plan(rerun) + finished == _plan(log), "finished jobs ran again"
    output = "".join(p.read_text() for p in workdir.glob(TRAIN_LOGS))
    steps = [int(step) for step in RESUMED.findall(output)]
    assert steps and min(steps) > 0, f"the rerun did not resume ({TRAIN_LOGS}):\n{output[:3000]}"
    assert all((workdir / target).is_file() for target in targets)
