# shellcheck shell=bash
# Common helpers for the start-*/stop-* scheduler scripts (sourced, not run).
#
# The caller sets SCHED_NAME (e.g. "slurm") and RUN_DIR (e.g. /run/slurm-test)
# before using the pid helpers.

SCHED_T0=$(date +%s.%N)
# (sbin tools are used by name; make sure they are found)
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

log() { printf '[%s] %s\n' "${SCHED_NAME:-sched}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Seconds (one decimal) elapsed since the time stamp $1 (default: script start).
elapsed() { awk -v a="${1:-$SCHED_T0}" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# stage WHAT: with SCHED_DEBUG=1, log the time elapsed at this step.
stage() {
    if [ "${SCHED_DEBUG:-0}" = 1 ]; then log "+$(elapsed "$SCHED_T0")s $*"; fi
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# ---------------------------------------------------------------- packages ---

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

SCHED_POLICY_RC_D=${SCHED_POLICY_RC_D:-/usr/sbin/policy-rc.d}
_sched_policy_created=0
_sched_policy_remove() {
    if [ "$_sched_policy_created" = 1 ]; then
        rm -f "$SCHED_POLICY_RC_D"
        _sched_policy_created=0
    fi
}

# apt_install PKG...: install the packages that are missing, non-interactively,
# without letting their maintainer scripts start any service.  Serialised with
# a lock so that several start scripts may run at the same time.
apt_install() {
    local p missing=() have
    have=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '$NF == "installed" {print $1}' || true)
    for p in "$@"; do grep -qx -- "$p" <<<"$have" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    (
        flock -w 600 9 || die "could not take the apt lock"
        export DEBIAN_FRONTEND=noninteractive
        if [ ! -e "$SCHED_POLICY_RC_D" ]; then
            printf '#!/bin/sh\n# temporary, from mlxp-core scripts/schedulers\nexit 101\n' >"$SCHED_POLICY_RC_D"
            chmod 755 "$SCHED_POLICY_RC_D"
            _sched_policy_created=1
            trap _sched_policy_remove EXIT
        fi
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            -o DPkg::Lock::Timeout=300 "${missing[@]}" >/tmp/sched-apt-"${SCHED_NAME:-x}".log 2>&1 || {
            tail -n 30 /tmp/sched-apt-"${SCHED_NAME:-x}".log >&2
            die "apt-get install ${missing[*]} failed"
        }
        _sched_policy_remove
        trap - EXIT
    ) 9>/run/mlxp-sched-apt.lock
}

# Debian packages of each scheduler (start-all.sh installs them in one go).
# shellcheck disable=SC2034
SLURM_PKGS="munge slurmctld slurmd slurm-client"
# shellcheck disable=SC2034
SGE_PKGS="gridengine-master gridengine-exec gridengine-client"
# python3/python3-venv: OAR's submit user cannot reach root's (pyenv) Python.
# shellcheck disable=SC2034
OAR_PKGS="postgresql oar-server oar-server-pgsql oar-node oar-user oar-user-pgsql libyaml-perl openssh-server python3 python3-venv"

# Without this, gridengine's postinst leaves act_qmaster empty.
sge_preseed() {
    pkg_installed gridengine-common && return 0
    debconf-set-selections <<'EOF2'
gridengine-common shared/gridenginemaster string localhost
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridengineconfig boolean true
EOF2
}

# -------------------------------------------------------- pid bookkeeping ---
# $RUN_DIR also holds the boot id it was made in: pid files from an earlier
# boot are meaningless (and their pids may belong to anything now).

_boot_id() { cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown; }
rundir_create() {
    mkdir -p "$RUN_DIR"
    [ -s "$RUN_DIR/boot_id" ] || _boot_id >"$RUN_DIR/boot_id"
}
rundir_forget_stale() {
    if [ -d "$RUN_DIR" ] && [ "$(cat "$RUN_DIR/boot_id" 2>/dev/null)" != "$(_boot_id)" ]; then
        log "forgetting $RUN_DIR (from an earlier boot)"
        rm -rf "$RUN_DIR"
    fi
}

# $RUN_DIR/<tag>.pid holds "PID COMM PGID" of a process this script started.

pid_record() { # tag pid
    local comm pgid
    comm=$(cat "/proc/$2/comm" 2>/dev/null) || die "process $1 ($2) died right after start"
    pgid=$(ps -o pgid= -p "$2" | tr -d ' ')
    rundir_create
    printf '%s %s %s\n' "$2" "$comm" "$pgid" >"$RUN_DIR/$1.pid"
}

# pid_get tag: print the recorded pid if that process is still alive with the
# same command name; otherwise print nothing and fail.
pid_get() {
    local f="$RUN_DIR/$1.pid" pid comm pgid
    [ -r "$f" ] || return 1
    read -r pid comm pgid <"$f" || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
    # A zombie is as good as dead; a zombie leader whose other threads still
    # run (exit in progress) is not.
    if [ "$(_proc_state "/proc/$pid/stat")" = Z ]; then
        local t st
        for t in /proc/"$pid"/task/*/stat; do
            st=$(_proc_state "$t")
            [ -n "$st" ] && [ "$st" != Z ] && { echo "$pid"; return 0; }
        done
        return 1
    fi
    echo "$pid"
}

pid_alive() { pid_get "$1" >/dev/null; }

# _proc_state /proc/PID[/task/TID]/stat: the one-letter state ("" if gone).
_proc_state() { sed 's/.*) //' "$1" 2>/dev/null | cut -d' ' -f1; }

# pid_stop tag [timeout] [signal]: stop a recorded process (TERM, then KILL).
# When it was started as the leader of its own process group (start_bg), what
# is left in that group (helpers, orphans of a crashed daemon) is killed too:
# a group id is not reused while the group has members, so they are ours.
pid_stop() {
    local tag=$1 timeout=${2:-10} sig=${3:-TERM} pid i rpid rpgid
    rpid='' rpgid=''
    [ -r "$RUN_DIR/$tag.pid" ] && read -r rpid _ rpgid <"$RUN_DIR/$tag.pid"
    if pid=$(pid_get "$tag"); then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do
            pid_alive "$tag" || break
            sleep 0.1
        done
        if pid_alive "$tag"; then
            log "$tag ($pid) still alive after ${timeout}s, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    if [ -n "$rpid" ] && [ "$rpid" = "$rpgid" ] &&
        [ -n "$(ps -e -o pgid=,stat= | awk -v g="$rpgid" '$1 == g && $2 !~ /^Z/')" ]; then
        log "killing what is left in process group $rpgid of $tag"
        kill -KILL -- "-$rpgid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$tag.pid"
}

# start_bg tag logfile cmd...: run a (foreground-mode) daemon detached in its
# own session with no tie to the caller's stdio, and record its pid.  The
# command name recorded is the one the process has once it has exec'd (set
# START_COMM when the program re-execs itself under another name).
start_bg() {
    local tag=$1 logf=$2 i comm
    shift 2
    mkdir -p "$(dirname "$logf")"
    setsid "$@" </dev/null >>"$logf" 2>&1 &
    local pid=$!
    for ((i = 0; i < 50; i++)); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
        if [ -n "${START_COMM:-}" ]; then
            [ "$comm" = "$START_COMM" ] && break
        elif [ "$comm" != setsid ]; then
            break
        fi
        sleep 0.05
    done
    pid_record "$tag" "$pid"
}

# wait_for timeout description cmd...: poll cmd every 0.2 s until it succeeds
# (exit status 99 from cmd means: give up now).
wait_for() {
    local timeout=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + timeout))
    local rc
    while :; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 0 ] && return 0
        [ "$rc" -eq 99 ] && { log "gave up waiting for: $what"; return 1; }
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}

# show_logs file...: print the tail of each existing file on stderr.
show_logs() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || continue
        printf -- '----- tail of %s -----\n' "$f" >&2
        tail -n "${SCHED_LOG_LINES:-40}" "$f" >&2
    done
}

# descendants pid...: print the given pids and all their descendants.
descendants() {
    ps -e -o pid=,ppid= | awk -v roots="$*" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            n = split(roots, r, " ")
            for (i = 1; i <= n; i++) keep[r[i]] = 1
            changed = 1
            while (changed) {
                changed = 0
                for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
            }
            for (p in keep) print p
        }'
}

# kill_tree pid...: SIGKILL the given processes and all their descendants.
kill_tree() {
    local all
    [ "$#" -gt 0 ] || return 0
    all=$(descendants "$@" | tr '\n' ' ')
    if [ -n "${all// /}" ]; then
        # shellcheck disable=SC2086
        kill -KILL $all 2>/dev/null || true
    fi
}
