#!/usr/bin/env bash
# `make down`: stops what `make up` started, and nothing else.
#   - each service with a pid file in .local/run (gateway first, then the rest in
#     reverse start order): SIGTERM, up to STOP_TIMEOUT seconds (default 45: a service
#     gets 30 s to finish in-flight requests) to exit, then SIGKILL;
#   - PostgreSQL, Redis and RabbitMQ only where .local/started-by-up says that
#     bootstrap.sh started them; servers that were already running stay up (a reused
#     Redis whose append-only file up.sh turned on gets its setting back).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=services.sh
source "$HERE/services.sh"

STOP_TIMEOUT=${STOP_TIMEOUT:-45}
failed=0

# shellcheck disable=SC2317 # called through wait_until
not_alive() { ! alive "$1"; }

# stop_service NAME PID_FILE
stop_service() {
  local name=$1 pid_file=$2 pid exe
  pid=$(<"$pid_file")
  if ! [[ $pid =~ ^[0-9]+$ ]] || ! alive "$pid"; then
    rm -f "$pid_file"
    return 0
  fi
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  exe=${exe% (deleted)}
  if [[ ${exe##*/} != "$name" ]]; then
    # The pid was reused by an unrelated process: not ours to stop.
    rm -f "$pid_file"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "$STOP_TIMEOUT" not_alive "$pid"; then
    warn "$name (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    if ! wait_until 10 not_alive "$pid"; then
      warn "$name (pid $pid) survived SIGKILL"
      failed=1
      return 0
    fi
  fi
  rm -f "$pid_file"
  printf 'down: stopped %s (pid %s)\n' "$name" "$pid"
}

# Services: the gateway first (it stops taking requests), then the rest in reverse
# start order, then any pid file left by a service no longer in the list.
mapfile -t names < <(service_names)
order=()
for ((i = ${#names[@]} - 1; i >= 0; i--)); do order+=("${names[i]}"); done
if [[ -d $RUN_DIR ]]; then
  for pid_file in "$RUN_DIR"/*.pid; do
    [[ -e $pid_file ]] || continue
    name=$(basename "$pid_file" .pid)
    [[ " ${order[*]} " == *" $name "* ]] || order+=("$name")
  done
fi
for name in "${order[@]}"; do
  if [[ -f $RUN_DIR/$name.pid ]]; then stop_service "$name" "$RUN_DIR/$name.pid"; fi
done

# A reused Redis whose append-only file up.sh turned on: as it was.
aof_record="$LOCAL_DIR/redis-aof-turned-on"
if [[ -s $aof_record ]]; then
  previous_fsync=$(<"$aof_record")
  if [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" CONFIG SET appendonly no 2>/dev/null) == OK ]]; then
    timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" CONFIG SET appendfsync "$previous_fsync" >/dev/null 2>&1 || true
    printf 'down: turned the Redis append-only file off again, as make up found it\n'
  else
    warn "could not turn the Redis append-only file off again (redis-cli CONFIG SET appendonly no)"
  fi
  rm -f "$aof_record"
fi

# Backing servers that bootstrap.sh started, newest first.
[[ -s $STARTED_RECORD ]] || exit "$failed"
mkdir -p "$LOG_DIR"
DOWN_LOG="$LOG_DIR/down.log"
# shellcheck disable=SC2317 # the three are called through wait_until
pg_down() { ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 1; }
redis_down() { [[ $(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) != PONG ]]; }
rabbitmq_down() { ! tcp_open "$AMQP_PORT"; }

mapfile -t started < <(tac "$STARTED_RECORD")
kept=()
for entry in "${started[@]}"; do
  read -r what version cluster <<<"$entry"
  case $what in
    postgresql)
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" stop >>"$DOWN_LOG" 2>&1 || true
      if wait_until 60 pg_down; then
        printf 'down: stopped PostgreSQL %s/%s\n' "$version" "$cluster"
      else
        warn "PostgreSQL $version/$cluster still answers (log: ${DOWN_LOG#"$ROOT"/})"
        kept+=("$entry")
      fi
      ;;
    redis)
      if ! redis_down; then
        timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >>"$DOWN_LOG" 2>&1 || true
      fi
      if wait_until 30 redis_down; then
        printf 'down: stopped Redis\n'
      else
        warn "Redis still answers on 127.0.0.1:$REDIS_PORT"
        kept+=("$entry")
      fi
      ;;
    rabbitmq)
      if ! rabbitmq_down; then
        timeout 120 rabbitmqctl shutdown >>"$DOWN_LOG" 2>&1 || true
      fi
      if wait_until 30 rabbitmq_down; then
        printf 'down: stopped RabbitMQ\n'
      else
        warn "RabbitMQ still answers on 127.0.0.1:$AMQP_PORT (log: ${DOWN_LOG#"$ROOT"/})"
        kept+=("$entry")
      fi
      ;;
    *) warn "started-by-up: unknown entry '$entry' (dropped)" ;;
  esac
done
if ((${#kept[@]})); then
  # Still running: keep them on record, oldest first, for the next `make down`.
  for ((i = ${#kept[@]} - 1; i >= 0; i--)); do printf '%s\n' "${kept[i]}"; done >"$STARTED_RECORD"
  failed=1
else
  rm -f "$STARTED_RECORD"
fi
exit "$failed"
