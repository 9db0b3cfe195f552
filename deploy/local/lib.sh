# shellcheck shell=bash
# Shared by the deploy/local scripts: where things live, messages, bounded waits.
# Sourced, never run.
# shellcheck disable=SC2034 # the variables are for the scripts that source this

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="$ROOT/.local"          # everything `make up` writes; git ignores it
LOG_DIR="$LOCAL_DIR/logs"         # <service>.log, bootstrap.log, redis.log
RUN_DIR="$LOCAL_DIR/run"          # <service>.pid for the services up.sh started
KEY_DIR="$LOCAL_DIR/keys"         # development signing keys (0700)
STARTED_RECORD="$LOCAL_DIR/started-by-up"  # backing services bootstrap.sh started

# Backing services, as the services and the tests reach them.
PG_HOST=127.0.0.1
PG_PORT=5432
PG_ADMIN_BASE="postgres://postgres:postgres@$PG_HOST:$PG_PORT"
REDIS_PORT=6379
AMQP_PORT=5672
AMQP_MANAGEMENT_PORT=15672
LOCAL_AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
LOCAL_EVENTS_EXCHANGE="hospital.events"

# Debian keeps the daemons' tools in sbin, which a plain user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# tail_log FILE [LINES]: the end of a log, indented, to explain a failure.
tail_log() {
  local file=$1 lines=${2:-30}
  if [[ -r $file ]]; then
    printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/^/  /' >&2
    printf -- '---\n' >&2
  fi
}

# tcp_open PORT [HOST]: true when something accepts TCP connections there.
tcp_open() {
  timeout 2 bash -c ": >/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null
}

# wait_until SECONDS COMMAND...: runs COMMAND every half second until it succeeds;
# false once SECONDS have passed without success.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}
