#!/usr/bin/env bash
# `make bench`: a load benchmark of the gateway in front of auth-service,
# notes-service and reminder-service, and of the llm-worker behind them (not a test).
# `bench/run.sh notes`: the note scenarios alone (about a minute after the build).
# `bench/run.sh steps`: note → steps through the gateway, and the llm-worker's
# throughput behind a slow model (about two and a half minutes after the build).
# `bench/run.sh reminders`: the dispatch benchmark of reminder-service (bench/reminders.sh).
#
#   1. builds release binaries (auth-service, notes-service, reminder-service, llm-worker,
#      gateway, hospital-bench);
#   2. starts its OWN auth-service, notes-service, reminder-service and gateway on free
#      loopback ports (never 8080-8084, so it does not collide with `make up`), against
#      fresh databases hospital_bench_<timestamp> and hospital_bench_notes_<timestamp>
#      (dropped at the end), its own exchange bench.events.<timestamp> (deleted at the
#      end; the services' queues under the prefix bench-notes-<timestamp>, deleted at the
#      end, and a bounded sink queue for note.submitted, see `hospital-bench broker`),
#      Redis keys under bench:<timestamp>: (deleted at the end), a signing key made by
#      `auth-service keygen` and a random content key, the gateway's auth rate limit
#      raised;
#   3. seeds users and each patient's first notes, then runs the scenarios through the
#      gateway: reads alone, reads with a paced login load beside them, note lists and
#      note writes; then note → steps with an llm-worker (offline extractor) in place of
#      the sink, and the llm-worker's throughput behind a fake OpenAI-compatible model
#      that answers in 500 ms; prints tables and writes them as JSON to
#      bench/results/latest.json (and bench/results/bcrypt-<cost>.json, or
#      bench/results/notes.json / steps.json for `notes` / `steps`);
#   4. stops everything it started (trap on EXIT). Every wait has a deadline; all
#      traffic stays on 127.0.0.1.
#
# Seeding: the read users are signed up while auth-service runs at
# BENCH_SEED_BCRYPT_COST (cheap: their hashes are never checked); auth-service is
# then restarted at BENCH_BCRYPT_COST and the login users are signed up, so every
# login checks a hash of the cost under test. Their access tokens live an hour
# (AUTH__JWT__ACCESS_TOKEN_TTL_SECS=3600) so that slow idle waits cannot outlast them.
# Each patient's doctor then writes BENCH_NOTES_PER_PATIENT notes through the gateway.
#
# Knobs (environment):
#   BENCH_BCRYPT_COST=12        bcrypt cost of the login users and of the serving
#                               auth-service (production: 12)
#   BENCH_SEED_BCRYPT_COST=4    cost while seeding the read users
#   BENCH_PATIENTS=200 BENCH_DOCTORS=50 BENCH_SPECIALIZATIONS=5 BENCH_LOGIN_USERS=20
#   BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_DURATION=20 (seconds)
#   BENCH_LOGIN_RATE=50         logins per second in the second scenario
#   BENCH_NOTES=1               0: leave the notes-service and its scenarios out
#   BENCH_NOTES_PER_PATIENT=5   notes each patient has before the note scenarios
#   BENCH_NOTE_LIMIT=20         the page size of the note list scenario
#   BENCH_NOTE_LIST_AS=mix      who reads the lists: patient, doctor, or mix (50/50)
#   BENCH_NOTE_DRAIN_WAIT=120   after the note writes, wait up to this many seconds for
#                               the outbox relay to publish what it could not keep up
#                               with, and report its rate (0: do not wait)
#   BENCH_STEPS=1               0: leave the steps scenarios out of `make bench`
#   BENCH_STEPS_RATE=50         notes per second of the note → steps scenario (open loop)
#   BENCH_STEPS_SECS=60         its measured seconds (after BENCH_WARMUP)
#   BENCH_STEPS_DEADLINE=30     seconds a note's steps may take before "not seen"
#   BENCH_STEPS_POLL_MS=10      how often each pending note's patient reads their steps
#   BENCH_LLM_CONCURRENCY="8 32"  the llm-worker concurrencies N of the throughput
#                               scenario, one run each ("": skip it)
#   BENCH_LLM_DELAY_MS=500      how long the fake model takes to answer
#   BENCH_LLM_SECS=30           backlog of each run: what N calls at a time would take
#                               this long to extract (N x secs x 1000 / delay notes)
#   BENCH_REDIS_URL=redis://127.0.0.1:6379  the reminder-service's Redis
#   BENCH_THREADS=1             worker threads of the load generator
#   BENCH_DIRECT=0              1: also run the reads against auth-service directly
#   BENCH_HEALTHZ=0             1: also drive /healthz of auth-service and gateway
#                               (the cost of the HTTP stack alone)
#   BENCH_READY_TIMEOUT=60      seconds each service gets to answer /readyz
#   BENCH_IDLE_WAIT=180         before each scenario, wait up to this many seconds
#                               for the machine to be idle (other builds on a shared
#                               machine distort the figures; the table shows the
#                               CPU used by others as "other")
#   BENCH_SKIP_BUILD=0          1: use the binaries already in target/release
#   BENCH_KEEP_TMP=0            1: keep the temporary folder (logs, users, key)
#   BENCH_PG_ADMIN_URL=postgres://postgres:postgres@127.0.0.1:5432
#   BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
# Other AUTH__* / NOTES__* / REMINDER__* / LLM__* / GATEWAY__* variables in the
# environment reach the services (for experiments such as AUTH__DATABASE__POOL_SIZE),
# except the ones set here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# `bench/run.sh reminders`: reminder-service's dispatch benchmark (bench/reminders.sh).
if [[ ${1:-} == reminders ]]; then
  exec "$HERE/reminders.sh" "${@:2}"
fi
MODE=all
if [[ ${1:-} == notes || ${1:-} == steps ]]; then
  MODE=$1
elif [[ -n ${1:-} ]]; then
  printf 'bench: error: unknown argument %s (expected nothing, notes, steps or reminders)\n' "$1" >&2
  exit 2
fi
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN_DIR="$TARGET_DIR/release"
RESULTS_DIR="$HERE/results"

BCRYPT_COST=${BENCH_BCRYPT_COST:-12}
SEED_BCRYPT_COST=${BENCH_SEED_BCRYPT_COST:-4}
PATIENTS=${BENCH_PATIENTS:-200}
DOCTORS=${BENCH_DOCTORS:-50}
SPECIALIZATIONS=${BENCH_SPECIALIZATIONS:-5}
LOGIN_USERS=${BENCH_LOGIN_USERS:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
WARMUP=${BENCH_WARMUP:-3}
DURATION=${BENCH_DURATION:-20}
LOGIN_RATE=${BENCH_LOGIN_RATE:-50}
NOTES=${BENCH_NOTES:-1}
NOTES_PER_PATIENT=${BENCH_NOTES_PER_PATIENT:-5}
NOTE_LIMIT=${BENCH_NOTE_LIMIT:-20}
NOTE_LIST_AS=${BENCH_NOTE_LIST_AS:-mix}
NOTE_DRAIN_WAIT=${BENCH_NOTE_DRAIN_WAIT:-120}
STEPS=${BENCH_STEPS:-1}
STEPS_RATE=${BENCH_STEPS_RATE:-50}
STEPS_SECS=${BENCH_STEPS_SECS:-60}
STEPS_DEADLINE=${BENCH_STEPS_DEADLINE:-30}
STEPS_POLL_MS=${BENCH_STEPS_POLL_MS:-10}
LLM_CONCURRENCY=${BENCH_LLM_CONCURRENCY-8 32}
LLM_DELAY_MS=${BENCH_LLM_DELAY_MS:-500}
LLM_SECS=${BENCH_LLM_SECS:-30}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
THREADS=${BENCH_THREADS:-1}
DIRECT=${BENCH_DIRECT:-0}
HEALTHZ=${BENCH_HEALTHZ:-0}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-60}
IDLE_WAIT=${BENCH_IDLE_WAIT:-180}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
PG_ADMIN_URL=${BENCH_PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432}
AMQP_URL=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
STOP_TIMEOUT=20

log() { printf 'bench: %s\n' "$*"; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}

# ---- checks ------------------------------------------------------------------------

# bounded NAME VALUE MIN MAX: VALUE is an integer within MIN..MAX.
bounded() {
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
    die "$1=$2: expected an integer in $3..$4"
  fi
}
bounded BENCH_BCRYPT_COST "$BCRYPT_COST" 4 31
bounded BENCH_SEED_BCRYPT_COST "$SEED_BCRYPT_COST" 4 31
bounded BENCH_PATIENTS "$PATIENTS" 1 5000
bounded BENCH_DOCTORS "$DOCTORS" 1 1000
bounded BENCH_LOGIN_USERS "$LOGIN_USERS" 1 200
bounded BENCH_CONNECTIONS "$CONNECTIONS" 1 1024
bounded BENCH_WARMUP "$WARMUP" 0 60
bounded BENCH_DURATION "$DURATION" 1 300
bounded BENCH_LOGIN_RATE "$LOGIN_RATE" 0 500
bounded BENCH_NOTES "$NOTES" 0 1
bounded BENCH_NOTES_PER_PATIENT "$NOTES_PER_PATIENT" 0 200
bounded BENCH_NOTE_LIMIT "$NOTE_LIMIT" 1 200
bounded BENCH_NOTE_DRAIN_WAIT "$NOTE_DRAIN_WAIT" 0 600
case $NOTE_LIST_AS in
  mix) NOTE_LIST_OPS=(--op note-list-patient --op note-list-doctor) ;;
  patient | doctor) NOTE_LIST_OPS=(--op "note-list-$NOTE_LIST_AS") ;;
  *) die "BENCH_NOTE_LIST_AS=$NOTE_LIST_AS: expected patient, doctor or mix" ;;
esac
if [[ $MODE != all ]]; then
  ((NOTES)) || die "bench/run.sh $MODE with BENCH_NOTES=0 has nothing to run"
fi
bounded BENCH_STEPS "$STEPS" 0 1
bounded BENCH_STEPS_RATE "$STEPS_RATE" 1 1000
bounded BENCH_STEPS_SECS "$STEPS_SECS" 1 600
bounded BENCH_STEPS_DEADLINE "$STEPS_DEADLINE" 1 300
bounded BENCH_STEPS_POLL_MS "$STEPS_POLL_MS" 1 1000
for n in $LLM_CONCURRENCY; do bounded "BENCH_LLM_CONCURRENCY's" "$n" 1 256; done
bounded BENCH_LLM_DELAY_MS "$LLM_DELAY_MS" 1 60000
bounded BENCH_LLM_SECS "$LLM_SECS" 1 600
[[ $REDIS_URL =~ ^redis://(127\.0\.0\.1|localhost|\[::1\]):[0-9]+(/[0-9]+)?$ ]] ||
  die "BENCH_REDIS_URL must be a loopback redis:// URL: $REDIS_URL"
# The note → steps and llm-worker scenarios: `steps`, or `make bench` unless left out.
RUN_STEPS=0
if [[ $MODE == steps ]] || { [[ $MODE == all ]] && ((STEPS && NOTES)); }; then
  RUN_STEPS=1
fi
# The note list and write scenarios: `notes`, or `make bench` unless left out.
RUN_NOTES=0
if [[ $MODE == notes ]] || { [[ $MODE == all ]] && ((NOTES)); }; then
  RUN_NOTES=1
fi
bounded BENCH_THREADS "$THREADS" 1 16
bounded BENCH_READY_TIMEOUT "$READY_TIMEOUT" 1 600
bounded BENCH_IDLE_WAIT "$IDLE_WAIT" 0 1800
[[ $PG_ADMIN_URL =~ ^postgres(ql)?://[^/]*@?(127\.0\.0\.1|localhost|\[::1\]):[0-9]+$ ]] ||
  die "BENCH_PG_ADMIN_URL must be a loopback postgres:// URL without a database: $PG_ADMIN_URL"
for tool in curl psql; do
  command -v "$tool" >/dev/null || die "$tool is needed (deploy/local/bootstrap.sh installs it)"
done

# ---- cleanup -----------------------------------------------------------------------

TMP=""
DBS=()  # databases created by this script
PIDS=() # services started by this script, in start order
QUEUE_PREFIX=""   # set once the exchange and the services' queues may exist
BROKER_SERVICES=() # --service NAME=PREFIX of every reminder-service and llm-worker queue
REDIS_PREFIX=""   # set once the reminder-service may have written keys
FAILED=1

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  [[ -r /proc/$1/stat ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# stop PID: SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
stop() {
  local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    printf 'bench: pid %s ignored SIGTERM for %ss: SIGKILL\n' "$pid" "$STOP_TIMEOUT" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

pg() { PGCONNECT_TIMEOUT=5 timeout 60 psql "$PG_ADMIN_URL/postgres" -qtAX -v ON_ERROR_STOP=1 "$@"; }
# notes_sql QUERY: one row of the notes-service's database, fields separated by spaces.
notes_sql() {
  PGCONNECT_TIMEOUT=5 timeout 60 psql "$PG_ADMIN_URL/$NOTES_DB" -qtAX -F ' ' -v ON_ERROR_STOP=1 -c "$1"
}

cleanup() {
  local status=$? i db
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[i]}"; done
  # After the services stopped, or they would declare their queues again.
  if [[ -n $QUEUE_PREFIX ]]; then
    timeout 60 "$BENCH" broker cleanup --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
      --queue-prefix "$QUEUE_PREFIX" "${BROKER_SERVICES[@]}" --delete-exchange yes >/dev/null ||
      printf 'bench: could not delete the queues %s* or the exchange %s (see above)\n' \
        "$QUEUE_PREFIX" "$EXCHANGE" >&2
  fi
  if [[ -n $REDIS_PREFIX ]]; then
    timeout 60 "$BENCH" redis-cleanup --url "$REDIS_URL" --prefix "$REDIS_PREFIX" >/dev/null ||
      printf 'bench: could not delete the Redis keys %s* (see above)\n' "$REDIS_PREFIX" >&2
  fi
  for db in "${DBS[@]}"; do
    pg -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      printf 'bench: could not drop database %s\n' "$db" >&2
  done
  if [[ -n $TMP && -d $TMP ]]; then
    if ((FAILED)) || [[ $KEEP_TMP == 1 ]]; then
      printf 'bench: logs and files kept in %s\n' "$TMP" >&2
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build -------------------------------------------------------------------------

# Always the same set: a different one would change the features cargo unifies, and
# rebuild the shared dependencies.
BINS=(auth-service gateway hospital-bench notes-service reminder-service llm-worker)
if [[ $SKIP_BUILD != 1 ]]; then
  log "building release binaries (cargo may wait for the shared target dir's lock)"
  (cd "$ROOT" && cargo build --release "${BINS[@]/#/--bin=}") ||
    die "cargo build --release failed (see above)"
fi
for bin in "${BINS[@]}"; do
  [[ -x $BIN_DIR/$bin ]] || die "no binary $BIN_DIR/$bin"
done
BENCH="$BIN_DIR/hospital-bench"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hospital-bench.XXXXXX")
STAMP=$(date -u +%Y%m%d%H%M%S)
# Its own exchange: events of another run (or of `make up`) never reach these services.
EXCHANGE="bench.events.${STAMP}-$$"
DB="hospital_bench_${STAMP}_$$"
NOTES_DB="hospital_bench_notes_${STAMP}_$$"
KEY="$TMP/jwt-ed25519.pem"
"$BIN_DIR/auth-service" keygen --out "$KEY" >"$TMP/keygen.log" 2>&1 ||
  die "auth-service keygen failed: $(cat "$TMP/keygen.log")"
DBS+=("$DB")
pg -c "CREATE DATABASE \"$DB\"" >/dev/null || die "cannot create database $DB"
if ((NOTES)); then
  DBS+=("$NOTES_DB")
  pg -c "CREATE DATABASE \"$NOTES_DB\"" >/dev/null || die "cannot create database $NOTES_DB"
  # The content key notes are sealed with: random, used by this run only, never written
  # to a file or a command line.
  CONTENT_KEYS="bench:$(head -c 32 /dev/urandom | base64 -w0)"
fi

# ---- services ----------------------------------------------------------------------

# start NAME LOG [env options]...: starts NAME in the background with `env`'s options
# (-u VAR, VAR=VALUE) applied to this environment, and the arguments START_ARGS; sets
# STARTED_PID and STARTED_PORT (read from the "listening" log line: the services bind
# port 0, the kernel picks a free one).
START_ARGS=()
start() {
  local name=$1 log=$2 deadline port=""
  shift 2
  printf '\n==== %s starting at %s\n' "$name" "$(date -Is)" >>"$log"
  env "$@" "$BIN_DIR/$name" "${START_ARGS[@]}" </dev/null >>"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  deadline=$((SECONDS + READY_TIMEOUT))
  while [[ -z $port ]]; do
    port=$(awk '/==== .* starting/ { p = "" } /listening/ && match($0, /"port":[0-9]+/) { p = substr($0, RSTART + 7, RLENGTH - 7) } END { print p }' "$log")
    [[ -n $port ]] && break
    alive "$STARTED_PID" || { tail -n 20 "$log" >&2; die "$name exited during start (log: $log)"; }
    ((SECONDS < deadline)) || die "$name did not report its port within ${READY_TIMEOUT}s (log: $log)"
    sleep 0.2
  done
  STARTED_PORT=$port
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/readyz") == 200 ]]; do
    alive "$STARTED_PID" || { tail -n 20 "$log" >&2; die "$name exited before it was ready (log: $log)"; }
    ((SECONDS < deadline)) || die "$name did not answer 200 on /readyz within ${READY_TIMEOUT}s (log: $log)"
    sleep 0.3
  done
}

# start_auth COST: auth-service with that bcrypt cost; sets AUTH_PID, AUTH_PORT.
start_auth() {
  start auth-service "$TMP/auth-service.log" -u AUTH__JWT__PRIVATE_KEY_PEM \
    AUTH__HTTP__HOST=127.0.0.1 AUTH__HTTP__PORT=0 \
    AUTH__DATABASE__URL="$PG_ADMIN_URL/$DB" \
    AUTH__EVENTS__AMQP_URL="$AMQP_URL" AUTH__EVENTS__EXCHANGE="$EXCHANGE" \
    AUTH__JWT__PRIVATE_KEY_FILE="$KEY" AUTH__JWT__ACCESS_TOKEN_TTL_SECS=3600 \
    AUTH__SECURITY__BCRYPT_COST="$1"
  AUTH_PID=$STARTED_PID
  AUTH_PORT=$STARTED_PORT
}

# Services stopped on purpose before the end: stop_started PID.
stop_started() {
  local pid=$1 i kept=()
  stop "$pid"
  for i in "${PIDS[@]}"; do [[ $i == "$pid" ]] || kept+=("$i"); done
  PIDS=("${kept[@]}")
}

# Every queue of the services is named under this prefix.
QUEUE_PREFIX="bench-notes-${STAMP}-$$"
REMINDER_QUEUE_PREFIX="$QUEUE_PREFIX-reminders"
if ((RUN_STEPS)); then
  # The reminder-service learns users and assignments from events: its queues must hold
  # those of the seeding, which happens before it runs.
  BROKER_SERVICES+=(--service "reminder-service=$REMINDER_QUEUE_PREFIX")
  "$BENCH" broker declare --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" --service "reminder-service=$REMINDER_QUEUE_PREFIX" \
    >"$TMP/broker.log" 2>&1 || die "declaring the reminder-service's queues failed: $(cat "$TMP/broker.log")"
fi

# Seeding auth-service: cheap hashes for the users whose passwords are never checked.
log "database $DB, exchange $EXCHANGE, logs in $TMP"
start_auth "$SEED_BCRYPT_COST"
"$BENCH" seed --base "http://127.0.0.1:$AUTH_PORT" --out "$TMP/users.json" --tag "r$STAMP" \
  --patients "$PATIENTS" --doctors "$DOCTORS" --specializations "$SPECIALIZATIONS"
stop "$AUTH_PID"
PIDS=()

# The serving auth-service, at the cost under test, and the users who log in.
start_auth "$BCRYPT_COST"
AUTH_API="http://127.0.0.1:$AUTH_PORT"
if [[ $MODE == all ]] && ((LOGIN_RATE > 0)); then
  "$BENCH" seed --base "$AUTH_API" --out "$TMP/login-users.json" \
    --tag "l$STAMP" --patients "$LOGIN_USERS" --doctors 0
fi

GATEWAY_UPSTREAMS=(GATEWAY__UPSTREAMS__AUTH="$AUTH_API")
if ((NOTES)); then
  # Its own queues (deleted at the end) and a sink for the notes it announces.
  "$BENCH" broker setup --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" >"$TMP/broker.log" 2>&1 ||
    die "binding the note sink failed: $(cat "$TMP/broker.log")"
  NOTES__CRYPTO__KEYS="$CONTENT_KEYS" start notes-service "$TMP/notes-service.log" \
    NOTES__HTTP__HOST=127.0.0.1 NOTES__HTTP__PORT=0 \
    NOTES__DATABASE__URL="$PG_ADMIN_URL/$NOTES_DB" \
    NOTES__EVENTS__AMQP_URL="$AMQP_URL" NOTES__EVENTS__EXCHANGE="$EXCHANGE" \
    NOTES__EVENTS__QUEUE_PREFIX="$QUEUE_PREFIX" \
    NOTES__AUTH__JWKS_URL="$AUTH_API/.well-known/jwks.json" NOTES__AUTH__URL="$AUTH_API"
  NOTES_PID=$STARTED_PID
  NOTES_PORT=$STARTED_PORT
  GATEWAY_UPSTREAMS+=(GATEWAY__UPSTREAMS__NOTES="http://127.0.0.1:$NOTES_PORT")
fi
if ((RUN_STEPS)); then
  # On the machine's Redis, every key under a prefix of this run (deleted at the end).
  REDIS_PREFIX="bench:${STAMP}-$$:"
  REMINDER__CRYPTO__KEYS="$CONTENT_KEYS" start reminder-service "$TMP/reminder-service.log" \
    REMINDER__HTTP__HOST=127.0.0.1 REMINDER__HTTP__PORT=0 \
    REMINDER__REDIS__URL="$REDIS_URL" REMINDER__REDIS__KEY_PREFIX="$REDIS_PREFIX" \
    REMINDER__EVENTS__AMQP_URL="$AMQP_URL" REMINDER__EVENTS__EXCHANGE="$EXCHANGE" \
    REMINDER__EVENTS__QUEUE_PREFIX="$REMINDER_QUEUE_PREFIX" \
    REMINDER__AUTH__JWKS_URL="$AUTH_API/.well-known/jwks.json" REMINDER__AUTH__URL="$AUTH_API"
  REMINDER_PID=$STARTED_PID
  REMINDER_PORT=$STARTED_PORT
  GATEWAY_UPSTREAMS+=(GATEWAY__UPSTREAMS__REMINDERS="http://127.0.0.1:$REMINDER_PORT")
fi

start gateway "$TMP/gateway.log" \
  GATEWAY__HTTP__HOST=127.0.0.1 GATEWAY__HTTP__PORT=0 "${GATEWAY_UPSTREAMS[@]}" \
  GATEWAY__AUTH__JWKS_URL="$AUTH_API/.well-known/jwks.json" \
  GATEWAY__RATE_LIMIT__AUTH_REQUESTS=1000000 GATEWAY__RATE_LIMIT__AUTH_WINDOW_SECS=60
GATEWAY_PID=$STARTED_PID
GATEWAY_PORT=$STARTED_PORT
GATEWAY_API="http://127.0.0.1:$GATEWAY_PORT/api/v1"
log "auth-service pid $AUTH_PID on :$AUTH_PORT, gateway pid $GATEWAY_PID on :$GATEWAY_PORT"
WATCH=(--watch "gateway=$GATEWAY_PID" --watch "auth-service=$AUTH_PID")
if ((NOTES)); then
  log "notes-service pid $NOTES_PID on :$NOTES_PORT, database $NOTES_DB, queues $QUEUE_PREFIX.*"
  WATCH+=(--watch "notes-service=$NOTES_PID")
fi
if ((RUN_STEPS)); then
  log "reminder-service pid $REMINDER_PID on :$REMINDER_PORT, Redis keys $REDIS_PREFIX*"
fi
if ((RUN_NOTES)); then
  "$BENCH" seed-notes --base "$GATEWAY_API" --users "$TMP/users.json" \
    --per-patient "$NOTES_PER_PATIENT"
fi

# ---- load --------------------------------------------------------------------------

LOAD_TIMEOUT=$((WARMUP + DURATION + 120))
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
SCENARIOS=()

# busy_permille: how busy the whole machine was over the last second, in thousandths
# of all cores.
busy_permille() {
  local a b
  read -r -a a </proc/stat
  sleep 1
  read -r -a b </proc/stat
  local busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
  local idle=$(((b[4] + b[5]) - (a[4] + a[5])))
  echo $((busy * 1000 / (busy + idle > 0 ? busy + idle : 1)))
}

# wait_idle: waits (at most IDLE_WAIT seconds) until less than 15% of the machine is
# busy for two seconds in a row.
wait_idle() {
  local deadline=$((SECONDS + IDLE_WAIT)) quiet=0 busy said=0
  while ((quiet < 2)); do
    busy=$(busy_permille)
    if ((busy < 150)); then
      quiet=$((quiet + 1))
      continue
    fi
    quiet=0
    if ((SECONDS >= deadline)); then
      log "warning: the machine is still $((busy / 10))% busy with other work; measuring anyway (see \"other\")"
      return 0
    fi
    if ((!said)); then
      log "waiting for the machine to be idle ($((busy / 10))% busy with other work, up to ${IDLE_WAIT}s)"
      said=1
    fi
  done
}

# scenario FILE LABEL BASE [extra hospital-bench load options...]
scenario() {
  local file="$TMP/$1.json" label=$2 base=$3
  shift 3
  wait_idle
  log "scenario: $label (${WARMUP}s warm-up, ${DURATION}s measured, $CONNECTIONS connections)"
  timeout "$LOAD_TIMEOUT" "$BENCH" load --base "$base" --label "$label" \
    --users "$TMP/users.json" --out "$file" \
    --connections "$CONNECTIONS" --warmup "$WARMUP" --duration "$DURATION" \
    --threads "$THREADS" --clk-tck "$CLK_TCK" "${WATCH[@]}" --watch-comm postgres \
    "$@" || die "the load generator failed ($label)"
  SCENARIOS+=("$file")
}

# outbox_report: a 202 means the note and its outbox row are committed; the relay
# publishes note.submitted afterwards. Right after the writes: how many notes the relay
# published per second during the window and how many still wait; then (at most
# NOTE_DRAIN_WAIT seconds) how fast it publishes those with the load gone. Adds
# outbox_* entries to the report's meta.
OUTBOX_META=()
outbox_report() {
  local backlog window end now deadline drained secs rate
  read -r backlog window end < <(notes_sql "SELECT count(*) FILTER (WHERE published_at IS NULL),
      count(*) FILTER (WHERE published_at > now() - make_interval(secs => $DURATION)),
      extract(epoch FROM now())::numeric(20, 3) FROM outbox") ||
    die "cannot read the notes-service's outbox"
  rate=$((window / DURATION))
  log "outbox: $rate notes/s published during the window; $backlog still to publish at its end"
  OUTBOX_META=(--meta "outbox_published_per_s_during_writes=$rate"
    --meta "outbox_backlog_after_writes=$backlog")
  ((backlog > 0 && NOTE_DRAIN_WAIT > 0)) || return 0
  deadline=$((SECONDS + NOTE_DRAIN_WAIT))
  now=$backlog
  while ((now > 0 && SECONDS < deadline)); do
    sleep 1
    now=$(notes_sql "SELECT count(*) FROM outbox WHERE published_at IS NULL") ||
      die "cannot read the notes-service's outbox"
  done
  read -r drained secs < <(notes_sql "SELECT count(*),
      coalesce(extract(epoch FROM max(published_at)) - $end, 0)::numeric(20, 3)
      FROM outbox WHERE published_at > to_timestamp($end)") ||
    die "cannot read the notes-service's outbox"
  rate=$(awk -v n="$drained" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  log "outbox: $drained published in ${secs}s after the writes ($rate/s, nothing else running); $now left"
  OUTBOX_META+=(--meta "outbox_published_per_s_after_writes=$rate"
    --meta "outbox_left_after_${NOTE_DRAIN_WAIT}s=$now")
}

if [[ $MODE == all ]]; then
  scenario reads "reads via gateway" "$GATEWAY_API"
  if [[ $DIRECT == 1 ]]; then
    scenario reads-direct "reads direct to auth" "$AUTH_API"
  fi
  if [[ $HEALTHZ == 1 ]]; then
    scenario healthz-gateway "gateway /healthz" "http://127.0.0.1:$GATEWAY_PORT" --path /healthz
    scenario healthz-auth "auth /healthz" "$AUTH_API" --path /healthz
  fi
  if ((LOGIN_RATE > 0)); then
    scenario logins "reads + ${LOGIN_RATE} logins/s, cost $BCRYPT_COST" "$GATEWAY_API" \
      --login-rate "$LOGIN_RATE" --login-users "$TMP/login-users.json"
  fi
fi
if ((RUN_NOTES)); then
  # Lists first, on the seeded notes only: the writes after them add notes. RabbitMQ
  # (beam.smp) is watched too: each note written is published with a confirm.
  scenario notes-list "note list via gateway (as $NOTE_LIST_AS)" "$GATEWAY_API" \
    --watch-comm beam.smp --note-limit "$NOTE_LIMIT" "${NOTE_LIST_OPS[@]}"
  scenario notes-post "note POST via gateway" "$GATEWAY_API" --watch-comm beam.smp \
    --op note-post
  outbox_report
fi

# start_llm_worker LOG [env options]...: an llm-worker on this run's exchange, with the
# notes-service's content key; sets LLM_PID.
start_llm_worker() {
  local log=$1
  shift
  LLM__CRYPTO__KEYS="$CONTENT_KEYS" start llm-worker "$log" \
    LLM__HTTP__HOST=127.0.0.1 LLM__HTTP__PORT=0 \
    LLM__EVENTS__AMQP_URL="$AMQP_URL" LLM__EVENTS__EXCHANGE="$EXCHANGE" "$@"
  LLM_PID=$STARTED_PID
}

# wait_outbox_empty SECONDS: until the notes-service has published every note written.
wait_outbox_empty() {
  local deadline=$((SECONDS + $1)) left
  while :; do
    left=$(notes_sql "SELECT count(*) FROM outbox WHERE published_at IS NULL") ||
      die "cannot read the notes-service's outbox"
    ((left > 0)) || return 0
    ((SECONDS < deadline)) || die "$left notes still unpublished after $1 s"
    sleep 0.5
  done
}

# steps_scenario: note → steps through the gateway, with an llm-worker on the offline
# extractor whose queue takes note.submitted instead of the sink.
steps_scenario() {
  local file="$TMP/steps.json" prefix="$QUEUE_PREFIX-llm"
  local label="note → steps via gateway, ${STEPS_RATE}/s"
  # Whatever the note writes left in the outbox goes to the sink, not to the worker.
  wait_outbox_empty 120
  "$BENCH" broker drop-note-sink --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" >>"$TMP/broker.log" 2>&1 ||
    die "deleting the note sink failed: $(tail -n 5 "$TMP/broker.log")"
  BROKER_SERVICES+=(--service "llm-worker=$prefix")
  start_llm_worker "$TMP/llm-worker.log" LLM__EVENTS__QUEUE_PREFIX="$prefix" \
    LLM__EXTRACTION__PROVIDER=offline
  wait_idle
  log "scenario: $label (${WARMUP}s warm-up, ${STEPS_SECS}s measured, deadline ${STEPS_DEADLINE}s, poll every ${STEPS_POLL_MS} ms)"
  timeout $((WARMUP + STEPS_SECS + STEPS_DEADLINE + 180)) "$BENCH" steps --base "$GATEWAY_API" \
    --label "$label" --users "$TMP/users.json" --out "$file" \
    --rate "$STEPS_RATE" --warmup "$WARMUP" --duration "$STEPS_SECS" \
    --deadline "$STEPS_DEADLINE" --poll-ms "$STEPS_POLL_MS" --clk-tck "$CLK_TCK" \
    "${WATCH[@]}" --watch "reminder-service=$REMINDER_PID" --watch "llm-worker=$LLM_PID" \
    --watch-comm postgres --watch-comm beam.smp --watch-comm redis-server ||
    die "the note → steps load failed"
  SCENARIOS+=("$file")
  stop_started "$LLM_PID"
  "$BENCH" broker delete --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" --service "llm-worker=$prefix" >>"$TMP/broker.log" 2>&1 ||
    die "deleting the llm-worker's queues failed: $(tail -n 5 "$TMP/broker.log")"
}

# llm_scenario N: a backlog of notes (what N calls at a time take LLM_SECS to extract)
# waits in an llm-worker's queue; the worker then starts with concurrency N against the
# fake model and count-steps reads what it publishes.
llm_scenario() {
  local n=$1 file="$TMP/llm-n$1.json" prefix="$QUEUE_PREFIX-llm-n$1" backlog since
  local label="llm-worker N=$1, model ${LLM_DELAY_MS} ms"
  backlog=$((n * LLM_SECS * 1000 / LLM_DELAY_MS))
  BROKER_SERVICES+=(--service "llm-worker=$prefix")
  "$BENCH" broker declare --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" --service "llm-worker=$prefix" >>"$TMP/broker.log" 2>&1 &&
    "$BENCH" broker steps-sink --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
      --queue-prefix "$QUEUE_PREFIX" >>"$TMP/broker.log" 2>&1 ||
    die "declaring the llm-worker's queues failed: $(tail -n 5 "$TMP/broker.log")"
  "$BENCH" seed-notes --base "$GATEWAY_API" --users "$TMP/users.json" --count "$backlog"
  wait_outbox_empty 120
  wait_idle
  log "scenario: $label ($backlog notes waiting; at best $((n * 1000 / LLM_DELAY_MS))/s)"
  curl -sf -o /dev/null --max-time 5 -X POST "http://127.0.0.1:$FAKE_PORT/stats/reset" ||
    die "the fake model's counters did not reset"
  since=$(date +%s%3N)
  start_llm_worker "$TMP/llm-worker-n$n.log" LLM__EVENTS__QUEUE_PREFIX="$prefix" \
    LLM__EVENTS__CONCURRENCY="$n" LLM__EVENTS__PREFETCH=$((2 * n)) \
    LLM__EXTRACTION__PROVIDER=openai LLM__EXTRACTION__MODEL=bench \
    LLM__EXTRACTION__BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" \
    LLM__EXTRACTION__MAX_IN_FLIGHT="$n"
  timeout $((backlog * LLM_DELAY_MS * 3 / n / 1000 + 240)) "$BENCH" count-steps \
    --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" --queue-prefix "$QUEUE_PREFIX" \
    --label "$label" --out "$file" --expect "$backlog" --concurrency "$n" \
    --delay-ms "$LLM_DELAY_MS" --since-ms "$since" \
    --deadline $((backlog * LLM_DELAY_MS * 3 / n / 1000 + 180)) \
    --fake-openai "http://127.0.0.1:$FAKE_PORT" --clk-tck "$CLK_TCK" \
    --watch "llm-worker=$LLM_PID" --watch "notes-service=$NOTES_PID" \
    --watch "reminder-service=$REMINDER_PID" --watch "fake-openai=$FAKE_PID" \
    --watch-comm beam.smp --watch-comm postgres --watch-comm redis-server ||
    die "counting steps.extracted failed ($label)"
  SCENARIOS+=("$file")
  stop_started "$LLM_PID"
  "$BENCH" broker delete --amqp-url "$AMQP_URL" --exchange "$EXCHANGE" \
    --queue-prefix "$QUEUE_PREFIX" --service "llm-worker=$prefix" >>"$TMP/broker.log" 2>&1 ||
    die "deleting the llm-worker's queues failed: $(tail -n 5 "$TMP/broker.log")"
}

if ((RUN_STEPS)); then
  steps_scenario
  if [[ -n ${LLM_CONCURRENCY// /} ]]; then
    START_ARGS=(fake-openai --delay-ms "$LLM_DELAY_MS")
    start hospital-bench "$TMP/fake-openai.log"
    START_ARGS=()
    FAKE_PID=$STARTED_PID
    FAKE_PORT=$STARTED_PORT
    for n in $LLM_CONCURRENCY; do llm_scenario "$n"; done
    stop_started "$FAKE_PID"
  fi
fi

# ---- report ------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- services crates 2>/dev/null) ]]; then
  commit="$commit+changes"
fi
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
# The caller's service settings, so an experiment's figures say what they measured.
overrides=$(env | grep -E '^(AUTH|NOTES|REMINDER|LLM|GATEWAY)__' |
  grep -vE 'PRIVATE_KEY_PEM|CRYPTO__KEYS|API_KEY' |
  sort | paste -sd' ' - || true)
meta=(--meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "commit=$commit"
  --meta "bcrypt_cost=$BCRYPT_COST" --meta "cores=$(nproc)" --meta "cpu=${cpu:-unknown}"
  --meta "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg)")
if ((RUN_NOTES)); then
  meta+=(--meta "notes_per_patient=$NOTES_PER_PATIENT" --meta "note_limit=$NOTE_LIMIT"
    "${OUTBOX_META[@]}")
fi
if ((RUN_STEPS)); then
  meta+=(--meta "steps_rate=$STEPS_RATE" --meta "steps_secs=$STEPS_SECS"
    --meta "steps_deadline_s=$STEPS_DEADLINE" --meta "steps_poll_ms=$STEPS_POLL_MS"
    --meta "llm_delay_ms=$LLM_DELAY_MS" --meta "llm_concurrency=$LLM_CONCURRENCY")
fi
if [[ -n $overrides ]]; then meta+=(--meta "settings=$overrides"); fi
echo
"$BENCH" report --out "$RESULTS_DIR/latest.json" "${meta[@]}" "${SCENARIOS[@]}"
if [[ $MODE != all ]]; then
  cp "$RESULTS_DIR/latest.json" "$RESULTS_DIR/$MODE.json"
else
  cp "$RESULTS_DIR/latest.json" "$RESULTS_DIR/bcrypt-$BCRYPT_COST.json"
fi
FAILED=0
