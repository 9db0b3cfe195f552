# shellcheck shell=bash
# Sourced by bench/reminders.sh and bench/bullmq.sh, which each run on a redis-server of
# their own: messages, bounds checks, a memory check, and that Redis (a free loopback port,
# never 6379's; files in a temporary folder, removed on exit unless the run failed or
# BENCH_KEEP_TMP=1; the server stopped on exit, also on Ctrl-C).

log() { printf 'bench: %s\n' "$*"; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}
# bounded NAME VALUE MIN MAX: dies unless VALUE is an integer in MIN..MAX.
bounded() {
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
    die "$1=$2: expected an integer in $3..$4"
  fi
}
# need_memory MB: dies unless about that much memory is available.
need_memory() {
  local avail_mb
  avail_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
  ((avail_mb >= $1)) || die "only ${avail_mb} MB available, the run wants about $1 MB"
}

TMP=""
REDIS_PID=""
PORT=""
# Set to 0 by the caller once the run succeeded: the temporary folder goes then.
FAILED=1

stop_redis() {
  if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  REDIS_PID=""
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_redis
  if [[ -n $TMP && -d $TMP ]]; then
    if ((FAILED)) || [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
      printf 'bench: logs kept in %s (the AOF removed)\n' "$TMP" >&2
      rm -rf "$TMP/redis-data"
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_own_redis NAME AOF [OPTION...]: a temporary folder hospital-bench-NAME.* (TMP), and
# redis-server on a free port in 16380..16480 (PORT, REDIS_PID) with the append-only file
# when AOF is 1 (fsync every second, as in production) and the extra redis-server options.
start_own_redis() {
  local name=$1 aof=no p
  [[ $2 == 1 ]] && aof=yes
  shift 2
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/hospital-bench-$name.XXXXXX")
  mkdir -p "$TMP/redis-data"
  PORT=""
  for p in $(seq 16380 16480); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
  done
  [[ -n $PORT ]] || die "no free port in 16380..16480"
  redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly "$aof" \
    --appendfsync everysec "$@" --dir "$TMP/redis-data" --logfile "$TMP/redis.log" </dev/null &
  REDIS_PID=$!
  for _ in $(seq 100); do
    [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited (log: $TMP/redis.log)"
    sleep 0.1
  done
  [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer"
  log "redis-server pid $REDIS_PID on :$PORT (appendonly $aof), files in $TMP"
}
