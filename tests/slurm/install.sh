#!/usr/bin/env bash
# Install the Debian packages of a single-node SLURM test cluster (needs root and apt).
# Usage: WITH_DBD=1 bash tests/slurm/install.sh   (WITH_DBD=0: slurm + munge only)
# Idempotent: when every package is installed it returns without touching apt.
# What apt leaves behind (start/stop-slurm.sh never use any of it): the packages, the
# slurm/munge/mysql users, /etc/munge/munge.key and the packages' default files in /etc.
set -euo pipefail
WITH_DBD=${WITH_DBD:-0}
pkgs=(slurmctld slurmd slurm-client munge)
[ "$WITH_DBD" = 1 ] && pkgs+=(slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install.sh: need root and apt-get to install: ${missing[*]}" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
