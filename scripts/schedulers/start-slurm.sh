#!/usr/bin/env bash
# Start a single-node SLURM (munged + slurmctld + slurmd) for the test suite.
# Idempotent: when everything it started is still up, it only re-checks.
# See README.md in this directory for the knobs and the facts tests rely on.
set -euo pipefail

SCHED_NAME=slurm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

RUN_DIR=${SLURM_TEST_RUN_DIR:-/run/slurm-test}
STATE_DIR=${SLURM_TEST_STATE_DIR:-/var/spool/slurm-test}
TIMEOUT=${SLURM_TEST_TIMEOUT:-60}
PARTITION=${SLURM_TEST_PARTITION:-debug}
KILL_WAIT=${SLURM_TEST_KILL_WAIT:-30}
LOG_DIR=/var/log/slurm
CONF=/etc/slurm/slurm.conf
CTLD_LOG=$LOG_DIR/slurmctld.log
SLURMD_LOG=$LOG_DIR/slurmd.log
MUNGE_LOG=/var/log/munge/munged.log

need_root
rundir_forget_stale

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

all_up() {
    pid_alive slurmctld && pid_alive slurmd && munge_works &&
        scontrol ping 2>/dev/null | grep -q 'is UP'
}

version() { sinfo --version 2>/dev/null | awk '{print $2}'; }

# ---------------------------------------------------------- fast path -------
stage "fast path"
if [ -d "$RUN_DIR" ] && all_up; then
    echo "SLURM $(version) already running (re-checked in $(elapsed "$SCHED_T0")s)"
    exit 0
fi
# Anything half-started from an earlier run is stopped first.
if [ -d "$RUN_DIR" ]; then
    log "previous instance incomplete; stopping what is left of it"
    "$HERE/stop-slurm.sh" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------- install ---------
stage "install"
t=$(date +%s.%N)
if [ "${SLURM_TEST_SKIP_INSTALL:-0}" != 1 ]; then
    # shellcheck disable=SC2086
    apt_install $SLURM_PKGS
fi
t_install=$(elapsed "$t")

fail() {
    log "ERROR: $*"
    show_logs "$MUNGE_LOG" "$CTLD_LOG" "$SLURMD_LOG"
    "$HERE/stop-slurm.sh" >/dev/null 2>&1 || true
    exit 1
}

t=$(date +%s.%N)
rundir_create
mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR"

# ---------------------------------------------------------- munge -----------
stage "munge"
if munge_works; then
    log "using the munged that is already running"
else
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    # munged refuses to run as root; setpriv execs (no extra parent process).
    start_bg munged "$RUN_DIR/munged.out" \
        setpriv --reuid=munge --regid=munge --init-groups munged -F
    wait_for 10 "munged" munge_works || fail "munged did not start"
fi

# ---------------------------------------------------------- slurm.conf ------
stage "slurm.conf"
host=$(hostname -s)
if ! getent hosts "$host" >/dev/null; then
    echo "127.0.1.1 $host" >>/etc/hosts
fi
# Node line from what slurmd detects (a mismatch makes the node INVALID).
detected=$(slurmd -C | head -n 1)
realmem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")
hw=$(tr ' ' '\n' <<<"$detected" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' ')
mem=$((realmem * 95 / 100))

cat >"$CONF" <<EOF
# Written by mlxp-core scripts/schedulers/start-slurm.sh -- single-node test cluster.
ClusterName=testcluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
JobRequeue=1
KillWait=$KILL_WAIT
NodeName=$host NodeAddr=127.0.0.1 ${hw}RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# ---------------------------------------------------------- daemons ---------
stage "daemons"
: >"$CTLD_LOG"
: >"$SLURMD_LOG"
# -c: start with a clean job table (job ids still keep counting up).
start_bg slurmctld "$RUN_DIR/slurmctld.out" slurmctld -D -c
wait_for "$TIMEOUT" "slurmctld to answer" sh -c 'scontrol ping | grep -q "is UP"' ||
    fail "slurmctld did not come up"
start_bg slurmd "$RUN_DIR/slurmd.out" slurmd -D
node_idle() { sinfo -h -N -o '%T' | grep -qx 'idle'; }
wait_for "$TIMEOUT" "node $host idle" node_idle || {
    sinfo -N -l >&2 || true
    fail "node did not become idle"
}
t_start=$(elapsed "$t")

# ---------------------------------------------------------- probe job -------
stage "probe job"
t=$(date +%s.%N)
jid=$(cd /tmp && sbatch --parsable -J slurm-test-probe -o /dev/null -e /dev/null --wrap true) ||
    fail "sbatch of the probe job failed"
jid=${jid%%;*}
probe_done() {
    local st
    st=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$st" in
    COMPLETED) return 0 ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        return 99
        ;;
    *) return 1 ;;
    esac
}
wait_for "$TIMEOUT" "probe job $jid to complete" probe_done || {
    scontrol show job "$jid" >&2 || true
    fail "the probe job did not complete"
}
t_job=$(elapsed "$t")

echo "SLURM $(version) ready in $(elapsed "$SCHED_T0")s (install ${t_install}s, start ${t_start}s, first job ${t_job}s); partition $PARTITION, $(sinfo -h -o %c) CPUs, pids in $RUN_DIR"
