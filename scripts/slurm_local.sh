#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing job-array sweeps (grefel sweep --slurm).
#
#   scripts/slurm_local.sh install      installs Debian's slurmctld, slurmd and munge when missing
#                                       (idempotent; exit 3 when apt-get is unavailable, 4 when not
#                                       root)
#   scripts/slurm_local.sh start DIR    writes DIR/slurm.conf and DIR/munge.key, starts munged,
#                                       slurmctld and slurmd with their state, spool, logs and pid
#                                       files under DIR, and waits until the node is idle; prints
#                                       `export SLURM_CONF=DIR/slurm.conf` (sbatch, squeue and
#                                       scancel need it)
#   scripts/slurm_local.sh stop DIR     cancels the cluster's jobs and stops the three daemons by
#                                       the process ids in DIR/*.pid
#
# The cluster is private to DIR: its own munge socket and key, and free TCP ports picked at start,
# so it runs beside a system Slurm or another test's cluster. The host's short name is the
# controller and the only node (CPUs=2, or 1 on a 1-core machine), with
# ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (no cgroups needed). Run as root.
set -euo pipefail

cmd=${1:-}
dir=${2:-}

die() {
  echo "slurm_local: $*" >&2
  exit "${EXIT:-1}"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || EXIT=4 die "must run as root (installs packages and starts daemons)"
}

install() {
  local missing=()
  for p in slurmctld slurmd munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root
  command -v apt-get >/dev/null || EXIT=3 die "apt-get not found; install ${missing[*]} by hand"
  # Keep the packages' maintainer scripts from starting system-wide daemons (policy-rc.d, only
  # when the machine has none).
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  echo "slurm_local: installing ${missing[*]}" >&2
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -qq)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends \
    "${missing[@]}" >/dev/null 2>&1; then
    "${apt[@]}" update >/dev/null
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  if [ -n "$policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
}

# A TCP port nobody listens on (from /proc/net/tcp*, so no ss or netstat needed).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    local hex
    hex=$(printf '%04X' "$p")
    if ! grep -qi ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

start() {
  need_root
  [ -n "$dir" ] || die "usage: slurm_local.sh start DIR"
  for b in munged slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || die "$b not found (run: slurm_local.sh install)"
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir"
  mkdir -p "$dir/munge" "$dir/ctld" "$dir/spool" "$dir/log"
  chmod 700 "$dir/munge"
  local host cpus ctld_port slurmd_port
  host=$(hostname -s)
  cpus=$(nproc)
  [ "$cpus" -gt 2 ] && cpus=2
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$dir/munge/munge.key"
  # MinJobAge=16: `sbatch --wait` polls at 2 s, then 8 s, growing ×4 while the interval is below
  # half of MinJobAge (to 32 s with the default 300, adding up to half a minute to a submission).
  # A finished task's record is kept MinJobAge seconds, and `sbatch --wait` reports the exit codes
  # of the records it still finds at the end: a task that failed long before the array ended does
  # not show in its exit code (with any MinJobAge, on any cluster; `grefel sweep --status` does).
  cat >"$dir/slurm.conf" <<EOF
ClusterName=grefel-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MessageTimeout=30
KillWait=5
MinJobAge=16
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  # Wait (up to 60 s) until the node takes jobs.
  local state=""
  for _ in $(seq 1 120); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
    case "$state" in idle | mixed | allocated) break ;; esac
    sleep 0.5
  done
  case "$state" in
  idle | mixed | allocated) ;;
  *)
    echo "slurm_local: node state '${state:-none}' after 60 s; logs in $dir/log:" >&2
    tail -5 "$dir"/log/*.log >&2 || true
    exit 1
    ;;
  esac
  echo "export SLURM_CONF=$SLURM_CONF"
}

# Sends SIGTERM to the pid in $1 and waits up to 10 s for it to go (then SIGKILL).
stop_pid() {
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  [ -n "$dir" ] || die "usage: slurm_local.sh stop DIR"
  [ -d "$dir" ] || return 0
  if [ -s "$dir/slurmctld.pid" ] && [ -f "$dir/slurm.conf" ]; then
    # Every job of this private cluster is ours: cancel them and wait (up to 20 s) until gone.
    export SLURM_CONF="$dir/slurm.conf"
    scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 40); do
      [ -z "$(squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.5
    done
  fi
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
}

case "$cmd" in
install) install ;;
start) start ;;
stop) stop ;;
*)
  echo "usage: scripts/slurm_local.sh install | start DIR | stop DIR" >&2
  exit 2
  ;;
esac
