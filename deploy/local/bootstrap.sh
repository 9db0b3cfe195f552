#!/usr/bin/env bash
# Makes PostgreSQL, Redis and RabbitMQ answer on 127.0.0.1, as the services and the
# tests expect them (see lib.sh), on a Debian machine without systemd:
#   - installs Debian's packages for what is missing (as root; `apt-get update` once);
#   - reuses a server that already answers, as it is (with a warning when a reused
#     Redis has no append-only file); starts one that does not, and records it in
#     .local/started-by-up so that `make down` stops only those;
#   - sets the postgres role's password to "postgres" when password login fails,
#     creates each service's database, enables RabbitMQ's management console (:15672).
# Idempotent; quiet unless it installs or starts something; every wait has a deadline.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=services.sh
source "$HERE/services.sh"

mkdir -p "$LOG_DIR"
BOOT_LOG="$LOG_DIR/bootstrap.log"
: >"$BOOT_LOG"

# Seconds each server gets to start (RabbitMQ's first boot is the slow one).
PG_START_TIMEOUT=${PG_START_TIMEOUT:-60}
REDIS_START_TIMEOUT=${REDIS_START_TIMEOUT:-30}
RABBITMQ_START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-120}

# ---- probes ----------------------------------------------------------------------

pg_answers() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
  else
    tcp_open "$PG_PORT"
  fi
}
redis_answers() {
  if command -v redis-cli >/dev/null; then
    [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
  else
    tcp_open "$REDIS_PORT"
  fi
}
# redis_ask ARGS...: the local Redis's answer to one command; empty when it has none.
redis_ask() {
  timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null || true
}
rabbitmq_answers() { tcp_open "$AMQP_PORT"; }
management_answers() { tcp_open "$AMQP_MANAGEMENT_PORT"; }
pg_server_installed() {
  command -v pg_ctlcluster >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# record_started WHAT...: notes that this script started WHAT, once.
record_started() {
  touch "$STARTED_RECORD"
  grep -qxF -- "$*" "$STARTED_RECORD" || printf '%s\n' "$*" >>"$STARTED_RECORD"
}

# ---- packages ---------------------------------------------------------------------

# install_packages PKG...: Debian's packages, without letting their install scripts
# start the daemons (this script starts them, its own way, and records it).
install_packages() {
  (($#)) || return 0
  if ((EUID != 0)); then
    die "missing: $*. Run this as root, or install them: apt-get install $*"
  fi
  command -v apt-get >/dev/null || die "missing: $* (and no apt-get to install them)"
  printf 'bootstrap: installing %s (log: %s)\n' "$*" "${BOOT_LOG#"$ROOT"/}"
  local guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# bootstrap.sh: no daemon starts during its install\nexit 101\n' >"$guard"
    chmod 755 "$guard"
    # shellcheck disable=SC2064 # expand now: remove exactly this file on exit
    trap "rm -f '$guard'" EXIT
  fi
  if ! apt-get update -qq >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG"
    die "apt-get update failed"
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG"
    die "apt-get install $* failed"
  fi
  if [[ -n $guard ]]; then
    rm -f "$guard"
    trap - EXIT
  fi
}

# What answers before this script does anything: those are reused as they are.
pg_was_up=false redis_was_up=false rabbit_was_up=false
pg_answers && pg_was_up=true
redis_answers && redis_was_up=true
rabbitmq_answers && rabbit_was_up=true

missing=()
# A server already answering needs only its client tools here.
if $pg_was_up; then
  command -v psql >/dev/null || missing+=(postgresql-client)
else
  if ! pg_server_installed || ! command -v psql >/dev/null; then missing+=(postgresql); fi
fi
if $redis_was_up; then
  command -v redis-cli >/dev/null || missing+=(redis-tools)
else
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    missing+=(redis-server)
  fi
fi
if ! $rabbit_was_up; then
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
fi
command -v curl >/dev/null || missing+=(curl) # up.sh asks /readyz with it
install_packages "${missing[@]}"

# ---- PostgreSQL -------------------------------------------------------------------

if ! $pg_was_up; then
  # The cluster set up for our port (pg_lsclusters -h: version name port status ...).
  clusters=$(pg_lsclusters -h 2>/dev/null || true)
  cluster=$(awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }' <<<"$clusters")
  if [[ -z $cluster ]]; then
    if [[ -n $clusters ]]; then
      printf '%s\n' "$clusters" | sed 's/^/  /' >&2
      die "none of these PostgreSQL clusters uses port $PG_PORT; set 'port = $PG_PORT' in one's postgresql.conf, or free the port and run pg_createcluster --port $PG_PORT"
    fi
    pg_version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' |
      sort -V | tail -n1)
    [[ -n $pg_version ]] || die "PostgreSQL is installed but no version is under /usr/lib/postgresql"
    pg_createcluster --port "$PG_PORT" "$pg_version" main >>"$BOOT_LOG" 2>&1 ||
      { tail_log "$BOOT_LOG"; die "pg_createcluster --port $PG_PORT $pg_version main failed"; }
    cluster="$pg_version main"
  fi
  read -r pg_version pg_cluster <<<"$cluster"
  pg_log="/var/log/postgresql/postgresql-$pg_version-$pg_cluster.log"
  printf 'bootstrap: starting PostgreSQL %s/%s\n' "$pg_version" "$pg_cluster"
  if ! pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG"
    tail_log "$pg_log"
    die "PostgreSQL $pg_version/$pg_cluster did not start (if it runs, it does not listen on $PG_HOST:$PG_PORT: see listen_addresses)"
  fi
  record_started postgresql "$pg_version" "$pg_cluster"
  if ! wait_until "$PG_START_TIMEOUT" pg_answers; then
    tail_log "$pg_log"
    die "PostgreSQL did not answer on $PG_HOST:$PG_PORT within ${PG_START_TIMEOUT}s"
  fi
fi

pg_admin_url="$PG_ADMIN_BASE/postgres"
pg_login() { PGCONNECT_TIMEOUT=5 psql "$pg_admin_url" -qtAX -v ON_ERROR_STOP=1 "$@"; }

# Debian's own pg_hba asks for a password (scram) on 127.0.0.1; trust needs none.
if ! pg_login -c 'select 1' >/dev/null 2>>"$BOOT_LOG"; then
  if ((EUID == 0)) && id postgres >/dev/null 2>&1; then
    (cd / && su postgres -c "psql -qX -c \"ALTER USER postgres PASSWORD 'postgres'\"") \
      >>"$BOOT_LOG" 2>&1 || true
  fi
  if ! err=$(pg_login -c 'select 1' 2>&1 >/dev/null); then
    die "cannot log in as $PG_ADMIN_BASE/postgres: $err"
  fi
fi

while read -r db; do
  [[ -n $db ]] || continue
  exists=$(pg_login -c "SELECT 1 FROM pg_database WHERE datname = '$db'")
  [[ $exists == 1 ]] && continue
  if ! err=$(pg_login -c "CREATE DATABASE \"$db\"" 2>&1); then
    # Another bootstrap may have created it meanwhile.
    [[ $(pg_login -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]] ||
      die "could not create database $db: $err"
  fi
done < <(service_databases)

# ---- Redis --------------------------------------------------------------------------

if ! $redis_was_up; then
  redis_dir="$LOCAL_DIR/redis"
  mkdir -p "$redis_dir"
  printf 'bootstrap: starting Redis (append-only file in %s)\n' "${redis_dir#"$ROOT"/}"
  if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --appendonly yes --appendfsync everysec \
    --dir "$redis_dir" --pidfile "$redis_dir/redis.pid" \
    --logfile "$LOG_DIR/redis.log" >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG"
    tail_log "$LOG_DIR/redis.log"
    die "redis-server did not start"
  fi
  record_started redis
  if ! wait_until "$REDIS_START_TIMEOUT" redis_answers; then
    tail_log "$LOG_DIR/redis.log"
    die "Redis did not answer on 127.0.0.1:$REDIS_PORT within ${REDIS_START_TIMEOUT}s"
  fi
else
  # A Redis that was already running is used as it is, its configuration untouched;
  # without its append-only file the reminders live only in its memory.
  appendonly=$(redis_ask CONFIG GET appendonly | sed -n 2p)
  if [[ ${BOOTSTRAP_CALLER:-} == up ]]; then
    : # up.sh turns the append-only file on (or says why it leaves it off)
  elif [[ $appendonly == no ]]; then
    config_file=$(redis_ask INFO server | tr -d '\r' | sed -n 's/^config_file://p')
    warn "the Redis on 127.0.0.1:$REDIS_PORT runs without its append-only file (appendonly no):
  reminders, check-ins and the notification feed would not survive a Redis restart.
  To turn AOF on now (this script leaves a running Redis as it is):
    redis-cli -p $REDIS_PORT CONFIG SET appendonly yes
    redis-cli -p $REDIS_PORT CONFIG SET appendfsync everysec
  and to keep it after Redis restarts, set 'appendonly yes' and 'appendfsync everysec'
  in ${config_file:-its config file (Debian: /etc/redis/redis.conf; this one was started without one)}${config_file:+ (or run: redis-cli -p $REDIS_PORT CONFIG REWRITE)}."
  elif [[ -z $appendonly ]]; then
    warn "could not ask the Redis on 127.0.0.1:$REDIS_PORT whether its append-only file is on (CONFIG GET appendonly): reminders survive a Redis restart only with appendonly yes"
  fi
fi

# ---- RabbitMQ ----------------------------------------------------------------------

if ! $rabbit_was_up; then
  # A node that never ran: keep it, its console and its clustering ports on loopback,
  # under a node name that survives a change of host name.
  if [[ ! -e /etc/rabbitmq/rabbitmq.conf ]]; then
    mkdir -p /etc/rabbitmq
    printf '%s\n' '# Written by deploy/local/bootstrap.sh: loopback only.' \
      "listeners.tcp.local = 127.0.0.1:$AMQP_PORT" \
      "management.tcp.ip = 127.0.0.1" >/etc/rabbitmq/rabbitmq.conf
  fi
  if [[ -z $(find /var/lib/rabbitmq/mnesia -mindepth 1 -maxdepth 1 2>/dev/null) ]] &&
    ! grep -qsE '^[[:space:]]*(RABBITMQ_)?NODENAME=' /etc/rabbitmq/rabbitmq-env.conf; then
    printf '%s\n' '# Added by deploy/local/bootstrap.sh: a loopback-only node.' \
      'NODENAME=rabbit@localhost' \
      'ERL_EPMD_ADDRESS=127.0.0.1' \
      'export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"' \
      >>/etc/rabbitmq/rabbitmq-env.conf
  fi
  printf 'bootstrap: starting RabbitMQ\n'
  if ! rabbitmq-server -detached >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG"
    die "rabbitmq-server -detached failed"
  fi
  record_started rabbitmq
  if ! wait_until "$RABBITMQ_START_TIMEOUT" rabbitmq_answers; then
    tail_log /var/log/rabbitmq/startup_err
    for f in /var/log/rabbitmq/rabbit@*.log; do tail_log "$f"; done
    die "RabbitMQ did not answer on 127.0.0.1:$AMQP_PORT within ${RABBITMQ_START_TIMEOUT}s"
  fi
fi

# The admin console, so operators see queues and dead letters (harmless if it is on).
if ! management_answers; then
  if ! command -v rabbitmq-plugins >/dev/null; then
    warn "RabbitMQ answers but rabbitmq-plugins is not here: enable rabbitmq_management on its host for the console at :$AMQP_MANAGEMENT_PORT"
  elif ! timeout 120 rabbitmq-plugins enable rabbitmq_management >>"$BOOT_LOG" 2>&1; then
    tail_log "$BOOT_LOG" 15
    warn "could not enable rabbitmq_management: no console at :$AMQP_MANAGEMENT_PORT"
  elif ! wait_until 60 management_answers; then
    warn "rabbitmq_management is enabled but :$AMQP_MANAGEMENT_PORT does not answer yet"
  fi
fi
