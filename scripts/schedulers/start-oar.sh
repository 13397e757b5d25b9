#!/usr/bin/env bash
# Start a single-node OAR 2.5 (PostgreSQL + Almighty + OAR's own sshd on port
# 6667) for the test suite, with one resource per CPU core and an unprivileged
# submit user (root may not submit OAR jobs).
# Idempotent: when everything it started is still up, it only re-checks.
# See README.md in this directory for the knobs and the facts tests rely on.
set -euo pipefail

SCHED_NAME=oar
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

RUN_DIR=${OAR_TEST_RUN_DIR:-/run/oar-test}
TIMEOUT=${OAR_TEST_TIMEOUT:-90}
TEST_USER=${OAR_TEST_USER:-oartest}
DB_PASS=${OAR_TEST_DB_PASSWORD:-oar-test-pw}
CONF=/etc/oar/oar.conf
OAR_LOG=/var/log/oar.log
SSHD_LOG=/var/log/oar-sshd.log

need_root
rundir_forget_stale

nodes_alive() { oarnodes -s 2>/dev/null | grep -q ': Alive'; }
all_up() {
    pid_alive almighty && pid_alive sshd && { pid_alive postgres || pg_up; } && nodes_alive
}
version() { oarsub -V 2>/dev/null | sed -n 's/.*version *: *\([0-9.]*\).*/\1/p' | head -n 1; }

pg_cluster() { pg_lsclusters -h 2>/dev/null | head -n 1; } # "15 main 5432 online ..."
pg_up() { [ "$(pg_cluster | awk '{print $4}')" = online ]; }

# ---------------------------------------------------------- fast path -------
stage "fast path"
if [ -d "$RUN_DIR" ] && all_up; then
    echo "OAR $(version) already running (re-checked in $(elapsed "$SCHED_T0")s)"
    exit 0
fi
if [ -d "$RUN_DIR" ]; then
    log "previous instance incomplete; stopping what is left of it"
    "$HERE/stop-oar.sh" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------- install ---------
stage "install"
t=$(date +%s.%N)
if [ "${OAR_TEST_SKIP_INSTALL:-0}" != 1 ]; then
    # shellcheck disable=SC2086
    apt_install $OAR_PKGS
fi
t_install=$(elapsed "$t")

fail() {
    log "ERROR: $*"
    show_logs "$OAR_LOG" "$SSHD_LOG" "$RUN_DIR/almighty.out" \
        "/var/log/postgresql/postgresql-$(pg_cluster | awk '{print $1 "-" $2}').log"
    "$HERE/stop-oar.sh" >/dev/null 2>&1 || true
    exit 1
}

t=$(date +%s.%N)
rundir_create

# ---------------------------------------------------------- PostgreSQL ------
stage "PostgreSQL"
if [ -z "$(pg_cluster)" ]; then
    log "creating a PostgreSQL cluster"
    pg_createcluster "$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)" main >/dev/null
fi
read -r PG_VER PG_NAME PG_PORT _ < <(pg_cluster)
if pg_up; then
    log "using the PostgreSQL $PG_VER/$PG_NAME that is already running (left running at stop)"
else
    install -d -o postgres -g postgres -m 2775 /run/postgresql
    pg_ctlcluster "$PG_VER" "$PG_NAME" start || fail "PostgreSQL did not start"
    pg_pid=$(head -n 1 "$(pg_conftool -s "$PG_VER" "$PG_NAME" show data_directory)/postmaster.pid")
    pid_record postgres "$pg_pid"
fi
psql_q() { runuser -u postgres -- psql -p "$PG_PORT" -tAq -c "$1" 2>/dev/null; }

# ---------------------------------------------------------- oar.conf --------
stage "oar.conf"
conf_set() { # KEY VALUE: set KEY="VALUE" (uncommenting / appending as needed)
    if grep -qE "^#?$1=" "$CONF"; then
        sed -i -E "s|^#?$1=.*|$1=\"$2\"|" "$CONF"
    else
        printf '%s="%s"\n' "$1" "$2" >>"$CONF"
    fi
}
conf_set DB_HOSTNAME 127.0.0.1
conf_set DB_PORT "$PG_PORT"
conf_set DB_BASE_PASSWD "$DB_PASS"
conf_set DB_BASE_PASSWD_RO "$DB_PASS-ro"
conf_set SERVER_HOSTNAME localhost
# Fast scheduling (defaults: 5 s between scheduler calls, 60 s security time).
conf_set SCHEDULER_MIN_TIME_BETWEEN_2_CALLS 0
conf_set SCHEDULER_JOB_SECURITY_TIME 1
# No cpuset/cgroup confinement (needs a cgroup hierarchy we do not have).
sed -i -E 's|^(JOB_RESOURCE_MANAGER_PROPERTY_DB_FIELD=)|#\1|' "$CONF"
touch "$OAR_LOG"
chown oar "$OAR_LOG"

# ---------------------------------------------------------- database --------
stage "database"
fresh_db=0
if [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname='oar'")" = 1 ]; then
    # Jobs left unfinished by a crash would confuse the new server: start afresh.
    left=$(runuser -u postgres -- psql -p "$PG_PORT" -d oar -tAq -c \
        "SELECT count(*) FROM jobs WHERE state NOT IN ('Terminated','Error')" 2>/dev/null || echo 0)
    if [ "${left:-0}" != 0 ]; then
        log "database has $left unfinished jobs from an earlier run: recreating it"
        oar-database --drop --db-is-local -y >"$RUN_DIR/db.out" 2>&1 || fail "oar-database --drop: $(cat "$RUN_DIR/db.out")"
        fresh_db=1
    fi
else
    fresh_db=1
fi
if [ "$fresh_db" = 1 ]; then
    oar-database --create --db-is-local -y >"$RUN_DIR/db.out" 2>&1 ||
        fail "oar-database --create: $(cat "$RUN_DIR/db.out")"
fi
# (the passwords in oar.conf may have changed since the database was created)
psql_q "ALTER ROLE oar PASSWORD '$DB_PASS'" >/dev/null || true
psql_q "ALTER ROLE oar_ro PASSWORD '$DB_PASS-ro'" >/dev/null || true

# ---------------------------------------------------------- node sshd -------
stage "node sshd"
[ -s /etc/oar/oar_ssh_host_rsa_key ] || ssh-keygen -q -t rsa -N '' -f /etc/oar/oar_ssh_host_rsa_key
if [ ! -s /var/lib/oar/.ssh/id_rsa ]; then
    install -d -o oar -g oar -m 0755 /var/lib/oar/.ssh
    runuser -u oar -- ssh-keygen -q -t rsa -N '' -f /var/lib/oar/.ssh/id_rsa
    printf 'environment="OAR_KEY=1" %s\n' "$(cat /var/lib/oar/.ssh/id_rsa.pub)" >/var/lib/oar/.ssh/authorized_keys
    chown oar:oar /var/lib/oar/.ssh/authorized_keys
fi
# OpenSSH 9 warns about this obsolete option.
sed -i -E 's|^(UsePrivilegeSeparation)|#\1|' /etc/oar/sshd_config
install -d -m 0755 /run/sshd
start_bg sshd "$RUN_DIR/sshd.out" /usr/sbin/sshd -D -f /etc/oar/sshd_config -o PidFile=none -E "$SSHD_LOG"
ssh_up() { (exec 3<>/dev/tcp/127.0.0.1/6667) 2>/dev/null; }
wait_for 15 "OAR sshd on port 6667" ssh_up || fail "OAR's sshd did not start"

# ---------------------------------------------------------- server ----------
stage "server"
# /usr/sbin/Almighty is a setuid wrapper that runs the server as user oar in
# the foreground (oar-server would only daemonize it).
START_COMM=Almighty start_bg almighty "$RUN_DIR/almighty.out" /usr/sbin/Almighty
server_up() {
    pid_alive almighty || return 99
    (exec 3<>/dev/tcp/127.0.0.1/6666) 2>/dev/null
}
wait_for "$TIMEOUT" "Almighty on port 6666" server_up || fail "Almighty did not start"

# ---------------------------------------------------------- resources -------
stage "resources"
if [ -z "$(oarnodes -l 2>/dev/null)" ]; then
    for p in cpu core; do oarproperty -a "$p" >/dev/null 2>&1 || true; done
    oarproperty -a host -c >/dev/null 2>&1 || true
    ncores=$(nproc)
    for ((i = 0; i < ncores; i++)); do
        oarnodesetting -a -h localhost -p host=localhost -p cpu=0 -p core="$i" >/dev/null ||
            fail "could not add resource core=$i"
    done
fi
# Resources of an earlier run may be Suspected/Absent: set them Alive.
oarnodesetting -h localhost -s Alive >/dev/null 2>&1 || true
wait_for "$TIMEOUT" "resources Alive" nodes_alive || { oarnodes -s >&2 || true; fail "no Alive resource"; }

# ---------------------------------------------------------- submit user -----
stage "submit user"
if ! getent passwd "$TEST_USER" >/dev/null; then
    useradd -m -s /bin/bash "$TEST_USER"
fi
home=$(getent passwd "$TEST_USER" | cut -d: -f6)
if [ ! -d "$home" ]; then
    install -d -o "$TEST_USER" -g "$(id -gn "$TEST_USER")" -m 0755 "$home"
fi
t_start=$(elapsed "$t")

# ---------------------------------------------------------- probe job -------
stage "probe job"
t=$(date +%s.%N)
if [ "${OAR_TEST_NO_PROBE:-0}" != 1 ]; then
    out=$(cd "$home" && runuser -u "$TEST_USER" -- oarsub -n oar-test-probe \
        -l core=1,walltime=0:05:00 -O /dev/null -E /dev/null true 2>&1) ||
        fail "oarsub of the probe job failed: $out"
    jid=$(sed -n 's/^OAR_JOB_ID=\([0-9]*\)$/\1/p' <<<"$out")
    [ -n "$jid" ] || fail "no OAR_JOB_ID in: $out"
    probe_done() {
        case "$(oarstat -s -j "$jid" 2>/dev/null)" in
        *": Terminated") return 0 ;;
        *": Error") return 99 ;;
        *) return 1 ;;
        esac
    }
    wait_for "$TIMEOUT" "probe job $jid to terminate" probe_done || {
        oarstat -f -j "$jid" >&2 || true
        fail "the probe job did not run"
    }
fi
t_job=$(elapsed "$t")

echo "OAR $(version) ready in $(elapsed "$SCHED_T0")s (install ${t_install}s, start ${t_start}s, first job ${t_job}s); $(oarnodes -s | grep -c Alive) cores, submit as: runuser -u $TEST_USER -- oarsub ...; pids in $RUN_DIR"
