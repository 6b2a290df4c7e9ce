#!/usr/bin/env bash
# A private single-node SLURM cluster for the sweep tests (aira-dsl sweep, executor slurm).
#
#   .ci/slurm.sh start   install slurm-wlm + munge (apt) if missing, write a configuration under
#                        $STATE (default /tmp/aira-ci-slurm), start munged, slurmctld and slurmd,
#                        wait until the node is idle and a job runs, and write $STATE/env
#   .ci/slurm.sh stop    stop those daemons by their pids
#   .ci/slurm.sh env     print the env file's path (source it: it exports SLURM_CONF)
#
# The machine has no systemd, so the daemons run by hand as root with everything (keys, sockets,
# spool, state, logs, pid files) in $STATE; clients find the cluster through SLURM_CONF.
# Four fake GPUs are declared in gres.conf as device files under $STATE/dev, so jobs that ask
# for --gres=gpu:N get a real CUDA_VISIBLE_DEVICES from SLURM's gres plugin.
#
# Job accounting: there is no slurmdbd (it needs a MariaDB server), so `sacct` is unavailable.
# aira-dsl does not depend on it: it reads live states with `squeue` and ended jobs with
# `scontrol show job` (MinJobAge keeps them for an hour here), plus the records its own job
# wrapper writes. jobcomp/filetxt also logs every ended job to $STATE/jobcomp.log.
#
# `start` is idempotent (a running, responsive cluster is left alone) and bounded (each wait
# has a limit; the whole thing takes well under 3 minutes); it exits non-zero when SLURM cannot
# be made to work, and the slurm-marked tests then skip with the reason.
set -euo pipefail

STATE=${AIRA_CI_SLURM_DIR:-/tmp/aira-ci-slurm}
ENV_FILE=$STATE/env
CONF=$STATE/slurm.conf
CTLD_PORT=${AIRA_CI_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${AIRA_CI_SLURM_SLURMD_PORT:-6818}
NODE_CPUS=${AIRA_CI_SLURM_CPUS:-4}
NODE_GPUS=4

log() { echo "slurm.sh: $*" >&2; }

# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

cluster_ready() {
  [ -f "$CONF" ] && alive "$STATE/munged.pid" && alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" \
    && SLURM_CONF=$CONF timeout 10 sinfo -h -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'
}

write_config() {
  local host
  host=$(hostname -s)
  mkdir -p "$STATE"/{munge,ctld,spool,dev,log}
  chmod 700 "$STATE/munge"
  # Fake GPUs: SLURM wants character devices. 195 is NVIDIA's major number; with no driver behind
  # it the nodes cannot be opened, which is fine: only their names and numbers matter here.
  # Without CAP_MKNOD, links to four distinct harmless devices do the same job.
  local spare=(/dev/null /dev/zero /dev/full /dev/urandom)
  for i in $(seq 0 $((NODE_GPUS - 1))); do
    rm -f "$STATE/dev/nvidia$i"
    mknod "$STATE/dev/nvidia$i" c 195 "$i" 2>/dev/null || ln -s "${spare[$i]}" "$STATE/dev/nvidia$i"
  done
  cat >"$CONF" <<EOF
# Written by .ci/slurm.sh: a single-node test cluster (not for production).
ClusterName=aira-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=8000 Gres=gpu:$NODE_GPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$STATE/gres.conf" <<EOF
NodeName=$host Name=gpu File=$STATE/dev/nvidia[0-$((NODE_GPUS - 1))]
EOF
}

start_munge() {
  alive "$STATE/munged.pid" && return 0
  if [ ! -s "$STATE/munge/munge.key" ]; then
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$STATE/munge/munge.key"
  fi
  munged --force --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
    --pid-file="$STATE/munged.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munge.seed"
  for _ in $(seq 1 50); do
    munge -n -S "$STATE/munge/munge.socket" 2>/dev/null | unmunge -S "$STATE/munge/munge.socket" >/dev/null 2>&1 \
      && return 0
    sleep 0.2
  done
  log "munged did not answer; its log ends with:"; tail -n 20 "$STATE/log/munged.log" >&2 || true
  return 1
}

start_daemons() {
  export SLURM_CONF=$CONF
  if ! alive "$STATE/slurmctld.pid"; then
    # -i: ignore state files from an earlier start (jobs of a previous CI run are not wanted).
    setsid slurmctld -i -f "$CONF" </dev/null >/dev/null 2>&1
  fi
  if ! alive "$STATE/slurmd.pid"; then
    setsid slurmd -f "$CONF" </dev/null >/dev/null 2>&1
  fi
  for _ in $(seq 1 60); do
    if timeout 10 sinfo -h -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then return 0; fi
    sleep 1
  done
  log "the node did not become idle in 60 s:"
  timeout 10 sinfo -N -l >&2 || true
  tail -n 15 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
  return 1
}

smoke_test() {
  # One real job, with a fake GPU, end to end (sbatch → slurmd → output file).
  local out=$STATE/smoke.out
  rm -f "$out"
  SLURM_CONF=$CONF timeout 30 sbatch -Q --wait --gres=gpu:1 -o "$out" \
    --wrap 'echo "gpus=$CUDA_VISIBLE_DEVICES"' >/dev/null || { log "the smoke-test job failed"; return 1; }
  grep -q '^gpus=[0-9]' "$out" || { log "the smoke-test job got no GPU: $(cat "$out" 2>/dev/null)"; return 1; }
}

stop_one() {
  local pidfile=$1 pid
  alive "$pidfile" || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start)
    if cluster_ready; then
      log "SLURM already running ($CONF)"
    else
      apt_install slurm-wlm munge
      stop_one "$STATE/slurmd.pid"; stop_one "$STATE/slurmctld.pid"
      write_config
      start_munge
      start_daemons
      smoke_test
    fi
    echo "export SLURM_CONF=$CONF" >"$ENV_FILE"
    log "ready: source $ENV_FILE"
    ;;
  stop)
    # Jobs first (so their processes do not outlive slurmd), then the daemons, each by its pid.
    if [ -f "$CONF" ] && alive "$STATE/slurmctld.pid"; then
      SLURM_CONF=$CONF timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
      sleep 1
    fi
    stop_one "$STATE/slurmd.pid"
    stop_one "$STATE/slurmctld.pid"
    stop_one "$STATE/munged.pid"
    rm -f "$ENV_FILE"
    ;;
  env)
    echo "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
