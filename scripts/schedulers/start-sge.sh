#!/usr/bin/env bash
# Start a single-node Grid Engine (Debian's gridengine 8.1.9: sge_qmaster +
# sge_execd) for the test suite, with the SGE host named "localhost".
# Idempotent: when everything it started is still up, it only re-checks.
# See README.md in this directory for the knobs and the facts tests rely on.
set -euo pipefail

SCHED_NAME=sge
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

RUN_DIR=${SGE_TEST_RUN_DIR:-/run/sge-test}
TIMEOUT=${SGE_TEST_TIMEOUT:-60}
SLOTS=${SGE_TEST_SLOTS:-$(nproc)}
NOTIFY=${SGE_TEST_NOTIFY:-00:00:05}
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON=$SGE_ROOT/$SGE_CELL/common
SPOOL=/var/spool/gridengine
QM_LOG=$SPOOL/qmaster/messages
EXECD_LOG=$SPOOL/execd/localhost/messages

need_root
rundir_forget_stale

qmaster_up() { qstat -g c >/dev/null 2>&1 || qconf -sh >/dev/null 2>&1; }
# all.q@localhost is up when its queue-instance state column is empty.
queue_ok() {
    local line
    line=$(qstat -f -q all.q@localhost 2>/dev/null | grep '^all.q@localhost') || return 1
    [ "$(awk '{print NF}' <<<"$line")" -eq 5 ] # qname type used/tot load arch (no states)
}
all_up() { pid_alive qmaster && pid_alive execd && queue_ok; }
version() { qstat -help 2>/dev/null | head -n 1 | awk '{print $2}'; }

# ---------------------------------------------------------- fast path -------
stage "fast path"
if [ -d "$RUN_DIR" ] && all_up; then
    echo "SGE $(version) already running (re-checked in $(elapsed "$SCHED_T0")s)"
    exit 0
fi
if [ -d "$RUN_DIR" ]; then
    log "previous instance incomplete; stopping what is left of it"
    "$HERE/stop-sge.sh" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------- install ---------
stage "install"
t=$(date +%s.%N)
if [ "${SGE_TEST_SKIP_INSTALL:-0}" != 1 ]; then
    sge_preseed
    # shellcheck disable=SC2086
    apt_install $SGE_PKGS
fi
t_install=$(elapsed "$t")

fail() {
    log "ERROR: $*"
    show_logs "$QM_LOG" "$EXECD_LOG" "$RUN_DIR/qmaster.out" "$RUN_DIR/execd.out"
    "$HERE/stop-sge.sh" >/dev/null 2>&1 || true
    exit 1
}

t=$(date +%s.%N)
rundir_create
work=$RUN_DIR/conf
mkdir -p "$work"

# ---------------------------------------------------------- host names ------
stage "host names"
# qmaster compares the name a client claims with the reverse lookup of its
# address (127.0.0.1 -> localhost): name the SGE host "localhost" and alias
# every other name of this machine onto it.
host=$(hostname)
if ! getent hosts "$host" >/dev/null; then
    echo "127.0.1.1 $host" >>/etc/hosts
fi
aliases=$( { hostname; hostname -s; hostname -f 2>/dev/null || true; } | grep -vx localhost | sort -u | tr '\n' ' ')
echo "localhost $aliases" >"$COMMON/host_aliases"
echo localhost >"$COMMON/act_qmaster"
chown sgeadmin:sgeadmin "$COMMON/host_aliases" "$COMMON/act_qmaster"

# ---------------------------------------------------------- spool -----------
stage "spool"
if [ ! -e "$SPOOL/spooldb/sge" ]; then
    log "initialising the cluster spool"
    install -d -o sgeadmin -g sgeadmin "$SPOOL/spooldb" "$SPOOL/qmaster" "$SPOOL/execd"
    runuser -u sgeadmin -- /usr/share/gridengine/scripts/init_cluster \
        "$SGE_ROOT" "$SGE_CELL" "$SPOOL/spooldb" sgeadmin >"$RUN_DIR/init_cluster.out" 2>&1 ||
        fail "init_cluster failed: $(cat "$RUN_DIR/init_cluster.out")"
fi
install -d -o sgeadmin -g sgeadmin "$SPOOL/qmaster" "$SPOOL/execd"

# ---------------------------------------------------------- qmaster ---------
stage "qmaster"
# SGE_ND=1: do not daemonize (so the recorded pid is the daemon's).
cd /
SGE_ND=1 start_bg qmaster "$RUN_DIR/qmaster.out" /usr/sbin/sge_qmaster
wait_for "$TIMEOUT" "sge_qmaster to answer" qmaster_up || fail "sge_qmaster did not come up"

# ---------------------------------------------------------- configuration ---
stage "configuration"
# qc ARGS...: run qconf quietly; show its output and fail if it fails.
qc() {
    local out
    out=$(qconf "$@" 2>&1) || fail "qconf $* failed: $out"
}

qconf -ah localhost >/dev/null 2>&1 || true # admin host
qconf -as localhost >/dev/null 2>&1 || true # submit host

# set_keys FILE key value [key value...]: replace "key ..." lines (which may
# be continued with a trailing backslash) in a qconf dump.
set_keys() {
    local f=$1
    shift
    while [ "$#" -ge 2 ]; do
        awk -v k="$1" -v v="$2" '
            skip { skip = /\\$/; next }
            $1 == k { printf "%-32s %s\n", k, v; skip = /\\$/; found = 1; next }
            { print }
            END { if (!found) printf "%-32s %s\n", k, v }' "$f" >"$f.new"
        mv "$f.new" "$f"
        shift 2
    done
}

# Global configuration: root may run jobs, accounting flushed at once.
qconf -sconf global >"$work/global"
set_keys "$work/global" \
    min_uid 0 min_gid 0 \
    load_report_time 00:00:05 \
    reporting_params "accounting=true reporting=false flush_time=00:00:01 accounting_flush_time=00:00:00 joblog=false sharelog=00:00:00"
# (the file given to -Mconf must be called "global")
qc -Mconf "$work/global"

# Scheduler: run every second, no artificial load adjustments.
qconf -ssconf >"$work/sched"
set_keys "$work/sched" \
    schedule_interval 0:0:1 flush_submit_sec 1 flush_finish_sec 1 \
    job_load_adjustments NONE load_adjustment_decay_time 0:0:0
qc -Msconf "$work/sched"

# Parallel environment "smp" (all slots on the one host).
cat >"$work/smp" <<'EOF'
pe_name            smp
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
if qconf -sp smp >/dev/null 2>&1; then qc -Mp "$work/smp"; else qc -Ap "$work/smp"; fi

# Execution host and queue all.q.
if ! qconf -se localhost >/dev/null 2>&1; then
    printf 'hostname localhost\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' >"$work/exechost"
    qc -Ae "$work/exechost"
fi
if qconf -sq all.q >/dev/null 2>&1; then
    qconf -sq all.q >"$work/all.q"
    mode=-Mq
else
    qconf -sq >"$work/all.q" # the template
    mode=-Aq
fi
set_keys "$work/all.q" \
    qname all.q hostlist localhost seq_no 0 \
    load_thresholds NONE suspend_thresholds NONE \
    pe_list smp slots "$SLOTS" \
    shell /bin/bash shell_start_mode unix_behavior \
    notify "$NOTIFY" tmpdir /tmp
qc "$mode" "$work/all.q"

# ---------------------------------------------------------- execd -----------
stage "execd"
# (started after the configuration: it caches min_uid/min_gid at start)
install -d -o sgeadmin -g sgeadmin "$SPOOL/execd/localhost"
SGE_ND=1 start_bg execd "$RUN_DIR/execd.out" /usr/sbin/sge_execd
wait_for "$TIMEOUT" "all.q@localhost to be usable" queue_ok || {
    qstat -f >&2 || true
    fail "all.q@localhost did not become usable"
}
# A queue left in error state by an earlier run is cleared.
qmod -c 'all.q@localhost' >/dev/null 2>&1 || true
t_start=$(elapsed "$t")

# ---------------------------------------------------------- probe job -------
stage "probe job"
t=$(date +%s.%N)
jid=$(cd /tmp && qsub -terse -N sge-test-probe -o /dev/null -e /dev/null -b y /bin/true) ||
    fail "qsub of the probe job failed"
probe_gone() { ! qstat -j "$jid" >/dev/null 2>&1; }
wait_for "$TIMEOUT" "probe job $jid to finish" probe_gone || {
    qstat -j "$jid" >&2 || true
    fail "the probe job did not run"
}
t_job=$(elapsed "$t")

echo "SGE $(version) ready in $(elapsed "$SCHED_T0")s (install ${t_install}s, start ${t_start}s, first job ${t_job}s); queue all.q@localhost, $SLOTS slots, pids in $RUN_DIR"
