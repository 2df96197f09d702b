#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster (Debian 12, slurm 22.05, as root, no systemd).
# Usage: BASE=/tmp/slurm-ci WITH_DBD=0|1 bash tests/slurm/start-slurm.sh
# Packages: tests/slurm/install.sh. Stop with stop-slurm.sh (same BASE), even after a failure.
# All state (config, munge key, spool, logs, pids, MariaDB data) lives under $BASE; the only
# system path touched is the /etc/slurm/slurm.conf symlink, which the snakemake slurm-jobstep
# plugin needs because it strips SLURM_CONF before its inner srun.
set -euo pipefail
: "${BASE:?set BASE to an empty or throw-away directory}"
WITH_DBD=${WITH_DBD:-0}
HOST=$(hostname -s)
NCPU=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # nproc obeys OMP_NUM_THREADS
MEM_MB=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 8 / 10 ))   # 80 % of RAM
LINK=/etc/slurm/slurm.conf

wait_for() { # wait_for <seconds> <cmd...>: poll until the command succeeds
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && { echo "start-slurm.sh: timeout waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

[ "$(id -u)" = 0 ] || { echo "start-slurm.sh: must run as root" >&2; exit 2; }
for d in munged slurmctld slurmd slurmdbd mariadbd; do
  if pgrep -x "$d" >/dev/null; then echo "start-slurm.sh: $d already runs; refusing" >&2; exit 3; fi
done
if [ -e "$LINK" ] || [ -L "$LINK" ]; then
  # a dangling link is what a crashed run of this script leaves; anything else is a real config
  if [ -L "$LINK" ] && [ ! -e "$LINK" ]; then rm -f "$LINK"
  else echo "start-slurm.sh: $LINK exists and is not ours; refusing" >&2; exit 3; fi
fi

BASE=$(mkdir -p "$BASE" && cd "$BASE" && pwd)
d=$(dirname "$BASE")   # munged wants every directory above its socket to be o+x
while [ "$d" != / ]; do
  [ "$(( 0$(stat -c %a "$d") & 1 ))" = 1 ] || { echo "start-slurm.sh: $d is not o+x (munged needs it)" >&2; exit 2; }
  d=$(dirname "$d")
done
rm -rf "$BASE"/{etc,state,run,log,munge,mysql}
mkdir -p "$BASE"/{etc,state/ctld,state/d,run,log,munge,mysql}
chmod 755 "$BASE" "$BASE/run"      # munged insists that the socket directory is o+x
chmod 700 "$BASE/munge"
SOCK=$BASE/run/munge.socket.2

# ---- munge: own key and socket; /etc/munge and /run/munge are not used
dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$BASE/munge/munge.key"
/usr/sbin/munged --key-file="$BASE/munge/munge.key" --socket="$SOCK" \
  --pid-file="$BASE/run/munged.pid" --log-file="$BASE/log/munged.log" \
  --seed-file="$BASE/munge/munged.seed"
wait_for 10 bash -c "munge -n --socket=$SOCK | unmunge --socket=$SOCK"

# ---- slurm.conf
ACCT="AccountingStorageType=accounting_storage/none"
if [ "$WITH_DBD" = 1 ]; then
  # connections to slurmdbd do not use AuthInfo; they find the munge socket here
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStoragePass=$SOCK"
fi
cat > "$BASE/etc/slurm.conf" <<CONF
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$BASE/state/ctld
SlurmdSpoolDir=$BASE/state/d
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default every job without --mem gets the whole node's memory
DefMemPerCPU=1000
# finished jobs stay in squeue this long; snakemake's squeue status needs >= 3 * init-seconds
MinJobAge=300
KillWait=5
ReturnToService=2
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
$ACCT
JobCompType=jobcomp/filetxt
JobCompLoc=$BASE/log/jobcomp.txt
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if [ ! -d /etc/slurm ]; then mkdir /etc/slurm && touch "$BASE/run/created-etc-slurm"; fi
ln -s "$BASE/etc/slurm.conf" "$LINK"
export SLURM_CONF=$BASE/etc/slurm.conf

# ---- MariaDB + slurmdbd (only for sacct / sacctmgr)
if [ "$WITH_DBD" = 1 ]; then
  mariadb-install-db --user=root --datadir="$BASE/mysql/data" \
    --auth-root-authentication-method=socket --skip-test-db > "$BASE/log/mariadb-install.log" 2>&1
  mariadbd --no-defaults --user=root --datadir="$BASE/mysql/data" --socket="$BASE/run/mysqld.sock" \
    --pid-file="$BASE/run/mariadbd.pid" --bind-address=127.0.0.1 --port=3307 \
    --log-error="$BASE/log/mariadb.err" --skip-log-bin > /dev/null 2>&1 &
  echo $! > "$BASE/run/mariadbd.pid"      # also written by mariadbd itself, once it is up
  wait_for 30 mariadb --no-defaults --socket="$BASE/run/mysqld.sock" -uroot -e 'select 1'
  mariadb --no-defaults --socket="$BASE/run/mysqld.sock" -uroot -e "
    CREATE DATABASE slurm_acct_db;
    CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  cat > "$BASE/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$BASE/log/slurmdbd.log
PidFile=$BASE/run/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$BASE/etc/slurmdbd.conf"
  slurmdbd          # reads slurmdbd.conf from the directory of $SLURM_CONF
  wait_for 30 sacctmgr -n list cluster
fi

# ---- slurmctld + slurmd
slurmctld
slurmd
wait_for 30 bash -c "sinfo -h -o %t | grep -qx idle"
if [ "$WITH_DBD" = 1 ]; then   # slurmctld registers the cluster in slurmdbd by itself
  wait_for 30 bash -c "sacctmgr -n list cluster format=cluster | grep -qw ci"
fi
echo "slurm is up: $(sinfo -h -o '%P %a %D %t %N %c CPUs %m MB')"
