#!/usr/bin/env bash
# Stop the cluster of start-slurm.sh: cancel jobs, end each daemon by the PID in its pid file
# (never by name), and remove the /etc/slurm/slurm.conf link (and /etc/slurm) only if ours.
# Usage: BASE=/tmp/slurm-ci bash tests/slurm/stop-slurm.sh   (safe to call twice or after a
# failed start). Exits non-zero if a daemon survived.
set -uo pipefail
: "${BASE:?set BASE to the directory given to start-slurm.sh}"
BASE=$(cd "$BASE" 2>/dev/null && pwd) || exit 0
CONF=$BASE/etc/slurm.conf
LINK=/etc/slurm/slurm.conf
# running, i.e. not gone and not a zombie waiting for PID 1 to reap it
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# jobs first, so that no slurmstepd outlives slurmd
if [ -f "$BASE/run/slurmctld.pid" ] && kill -0 "$(cat "$BASE/run/slurmctld.pid")" 2>/dev/null; then
  SLURM_CONF=$CONF scancel --user=root 2>/dev/null
  for _ in $(seq 1 50); do    # up to 10 s
    [ -z "$(SLURM_CONF=$CONF squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && break
    sleep 0.2
  done
fi

pids=()
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  f=$BASE/run/$d.pid
  [ -f "$f" ] || continue
  p=$(cat "$f")
  # a stale pid file may name a reused pid: check the command name before signalling
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$d" ] || continue
  kill -TERM "$p" && pids+=("$d:$p")
done
left=("${pids[@]}")
for _ in $(seq 1 75); do      # up to 15 s
  left=()
  for dp in "${pids[@]}"; do alive "${dp#*:}" && left+=("$dp"); done
  [ ${#left[@]} -eq 0 ] && break
  sleep 0.2
done
for dp in "${left[@]}"; do
  echo "stop-slurm.sh: ${dp%%:*} (${dp#*:}) ignored TERM, sending KILL" >&2
  kill -KILL "${dp#*:}" 2>/dev/null
done
echo "stopped: ${pids[*]:-nothing}"

if [ "$(readlink "$LINK" 2>/dev/null)" = "$CONF" ]; then rm -f "$LINK"; fi
if [ -f "$BASE/run/created-etc-slurm" ]; then
  rmdir /etc/slurm 2>/dev/null && rm -f "$BASE/run/created-etc-slurm"
fi
rc=0
for dp in "${pids[@]}"; do
  sleep 0.1
  if alive "${dp#*:}"; then echo "stop-slurm.sh: ${dp%%:*} survived" >&2; rc=1; fi
done
exit $rc
