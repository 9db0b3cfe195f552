#!/usr/bin/env bash
# `make bench`: a load benchmark of the gateway in front of auth-service (not a test).
# `bench/run.sh reminders`: the dispatch benchmark of reminder-service (bench/reminders.sh).
#
#   1. builds release binaries (auth-service, gateway, hospital-bench);
#   2. starts its OWN auth-service and gateway on free loopback ports (never 8080/8081,
#      so it does not collide with `make up`), against a fresh database
#      hospital_bench_<timestamp> (dropped at the end), the exchange bench.events, a
#      signing key made by `auth-service keygen` in a temporary folder, the gateway's
#      auth rate limit raised;
#   3. seeds users, then runs two scenarios through the gateway: reads alone, and
#      reads with a paced login load beside them; prints a table and writes it as
#      JSON to bench/results/latest.json (and bench/results/bcrypt-<cost>.json);
#   4. stops everything it started (trap on EXIT). Every wait has a deadline; all
#      traffic stays on 127.0.0.1.
#
# Seeding: the read users are signed up while auth-service runs at
# BENCH_SEED_BCRYPT_COST (cheap: their hashes are never checked); auth-service is
# then restarted at BENCH_BCRYPT_COST and the login users are signed up, so every
# login checks a hash of the cost under test.
#
# Knobs (environment):
#   BENCH_BCRYPT_COST=12        bcrypt cost of the login users and of the serving
#                               auth-service (production: 12)
#   BENCH_SEED_BCRYPT_COST=4    cost while seeding the read users
#   BENCH_PATIENTS=200 BENCH_DOCTORS=50 BENCH_SPECIALIZATIONS=5 BENCH_LOGIN_USERS=20
#   BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_DURATION=20 (seconds)
#   BENCH_LOGIN_RATE=50         logins per second in the second scenario
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
# Other AUTH__* / GATEWAY__* variables in the environment reach the services (for
# experiments such as AUTH__DATABASE__POOL_SIZE), except the ones set here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# `bench/run.sh reminders`: reminder-service's dispatch benchmark (bench/reminders.sh).
if [[ ${1:-} == reminders ]]; then
  exec "$HERE/reminders.sh" "${@:2}"
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
THREADS=${BENCH_THREADS:-1}
DIRECT=${BENCH_DIRECT:-0}
HEALTHZ=${BENCH_HEALTHZ:-0}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-60}
IDLE_WAIT=${BENCH_IDLE_WAIT:-180}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
PG_ADMIN_URL=${BENCH_PG_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432}
AMQP_URL=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
EXCHANGE=bench.events
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
DB=""
PIDS=() # services started by this script, in start order
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

cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[i]}"; done
  if [[ -n $DB ]]; then
    pg -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      printf 'bench: could not drop database %s\n' "$DB" >&2
  fi
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

if [[ $SKIP_BUILD != 1 ]]; then
  log "building release binaries (cargo may wait for the shared target dir's lock)"
  (cd "$ROOT" && cargo build --release --bin auth-service --bin gateway --bin hospital-bench) ||
    die "cargo build --release failed (see above)"
fi
for bin in auth-service gateway hospital-bench; do
  [[ -x $BIN_DIR/$bin ]] || die "no binary $BIN_DIR/$bin"
done
BENCH="$BIN_DIR/hospital-bench"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hospital-bench.XXXXXX")
STAMP=$(date -u +%Y%m%d%H%M%S)
DB="hospital_bench_${STAMP}_$$"
KEY="$TMP/jwt-ed25519.pem"
"$BIN_DIR/auth-service" keygen --out "$KEY" >"$TMP/keygen.log" 2>&1 ||
  die "auth-service keygen failed: $(cat "$TMP/keygen.log")"
pg -c "CREATE DATABASE \"$DB\"" >/dev/null || die "cannot create database $DB"

# ---- services ----------------------------------------------------------------------

# start NAME LOG [env options]...: starts NAME in the background with `env`'s options
# (-u VAR, VAR=VALUE) applied to this environment; sets STARTED_PID and STARTED_PORT (read from the
# "listening" log line: the services bind port 0, the kernel picks a free one).
start() {
  local name=$1 log=$2 deadline port=""
  shift 2
  printf '\n==== %s starting at %s\n' "$name" "$(date -Is)" >>"$log"
  env "$@" "$BIN_DIR/$name" </dev/null >>"$log" 2>&1 &
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
    AUTH__JWT__PRIVATE_KEY_FILE="$KEY" \
    AUTH__SECURITY__BCRYPT_COST="$1"
  AUTH_PID=$STARTED_PID
  AUTH_PORT=$STARTED_PORT
}

# Seeding auth-service: cheap hashes for the users whose passwords are never checked.
log "database $DB, logs in $TMP"
start_auth "$SEED_BCRYPT_COST"
"$BENCH" seed --base "http://127.0.0.1:$AUTH_PORT" --out "$TMP/users.json" --tag "r$STAMP" \
  --patients "$PATIENTS" --doctors "$DOCTORS" --specializations "$SPECIALIZATIONS"
stop "$AUTH_PID"
PIDS=()

# The serving auth-service, at the cost under test, and the users who log in.
start_auth "$BCRYPT_COST"
"$BENCH" seed --base "http://127.0.0.1:$AUTH_PORT" --out "$TMP/login-users.json" \
  --tag "l$STAMP" --patients "$LOGIN_USERS" --doctors 0

start gateway "$TMP/gateway.log" \
  GATEWAY__HTTP__HOST=127.0.0.1 GATEWAY__HTTP__PORT=0 \
  GATEWAY__UPSTREAMS__AUTH="http://127.0.0.1:$AUTH_PORT" \
  GATEWAY__AUTH__JWKS_URL="http://127.0.0.1:$AUTH_PORT/.well-known/jwks.json" \
  GATEWAY__RATE_LIMIT__AUTH_REQUESTS=1000000 GATEWAY__RATE_LIMIT__AUTH_WINDOW_SECS=60
GATEWAY_PID=$STARTED_PID
GATEWAY_PORT=$STARTED_PORT
log "auth-service pid $AUTH_PID on :$AUTH_PORT, gateway pid $GATEWAY_PID on :$GATEWAY_PORT"

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
    --threads "$THREADS" --clk-tck "$CLK_TCK" \
    --watch "gateway=$GATEWAY_PID" --watch "auth-service=$AUTH_PID" --watch-comm postgres \
    "$@" || die "the load generator failed ($label)"
  SCENARIOS+=("$file")
}

GATEWAY_API="http://127.0.0.1:$GATEWAY_PORT/api/v1"
AUTH_API="http://127.0.0.1:$AUTH_PORT"
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

# ---- report ------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- services crates 2>/dev/null) ]]; then
  commit="$commit+changes"
fi
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
# The caller's service settings, so an experiment's figures say what they measured.
overrides=$(env | grep -E '^(AUTH|GATEWAY)__' | grep -v 'PRIVATE_KEY_PEM' | sort | paste -sd' ' - || true)
meta=(--meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "commit=$commit"
  --meta "bcrypt_cost=$BCRYPT_COST" --meta "cores=$(nproc)" --meta "cpu=${cpu:-unknown}"
  --meta "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg)")
if [[ -n $overrides ]]; then meta+=(--meta "settings=$overrides"); fi
echo
"$BENCH" report --out "$RESULTS_DIR/latest.json" "${meta[@]}" "${SCENARIOS[@]}"
cp "$RESULTS_DIR/latest.json" "$RESULTS_DIR/bcrypt-$BCRYPT_COST.json"
FAILED=0
