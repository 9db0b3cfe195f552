#!/usr/bin/env bash
# `bench/run.sh reminders`: the dispatch benchmark of reminder-service (not a test).
#
#   1. builds release binaries (reminder-service, hospital-bench-reminders);
#   2. starts its OWN redis-server on a free loopback port (never 6379), with AOF on as in
#      production (appendfsync everysec), its files in a temporary folder;
#   3. hospital-bench-reminders seeds PATIENTS x PER_PATIENT pending reminders due over a
#      WINDOW-second window starting LEAD seconds after seeding starts, reads Redis memory
#      before and after, binds its own queue to the exchange bench.reminders.<stamp>, starts
#      reminder-service on that Redis and exchange, and consumes every reminder.due:
#      throughput, lateness (received - due_at) p50/p99/max, duplicates, CPU per process;
#      prints a table and writes JSON to bench/results/reminders-latest.json;
#   4. stops everything it started and deletes its queues and exchange (trap on EXIT).
#
# `bench/run.sh reminders --compare`: then, with our Redis stopped, bench/bullmq.sh runs
# BullMQ at the same job twice (BENCH_BULLMQ_PATTERN bunched and spread, same knobs), and
# bench/bullmq/compare.mjs prints the three side by side with the ratios ours / BullMQ
# and writes bench/results/reminders-compare.json (needs node 20 and, once, npm).
#
# Knobs (environment):
#   BENCH_REMINDER_PATIENTS=100000  patients, one plan step each
#   BENCH_REMINDER_PER_PATIENT=10   reminders per patient (all materialised)
#   BENCH_REMINDER_WINDOW=60        seconds the due instants spread over
#   BENCH_REMINDER_LEAD=40          the window starts this long after seeding starts
#                                   (seeding must end before; the report shows the slack)
#   BENCH_REMINDER_CONCURRENCY=256  replace_steps calls in flight while seeding
#   BENCH_REMINDER_AOF=1            0: Redis without AOF
#   BENCH_REMINDER_DEADLINE=120     stop consuming this long after the window ends
#   BENCH_REMINDER_SCRIPTS_ONLY=0   1: no broker, no service: seed, then claim and acknowledge
#                                   every reminder through the service's Store calls and
#                                   report Redis CPU per reminder (reminders-scripts.json)
#   BENCH_SKIP_BUILD=0 BENCH_KEEP_TMP=0
#   BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
# REMINDER__REMINDERS__* variables (BATCH, DISPATCHERS, LEASE_SECS, ...) reach the service.
set -euo pipefail

COMPARE=0
for arg in "$@"; do
  case $arg in
    --compare) COMPARE=1 ;;
    *)
      printf 'bench: error: unknown argument %s (expected nothing or --compare)\n' "$arg" >&2
      exit 2
      ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN_DIR="$TARGET_DIR/release"
RESULTS_DIR="$HERE/results"

PATIENTS=${BENCH_REMINDER_PATIENTS:-100000}
PER_PATIENT=${BENCH_REMINDER_PER_PATIENT:-10}
WINDOW=${BENCH_REMINDER_WINDOW:-60}
LEAD=${BENCH_REMINDER_LEAD:-40}
CONCURRENCY=${BENCH_REMINDER_CONCURRENCY:-256}
AOF=${BENCH_REMINDER_AOF:-1}
DEADLINE=${BENCH_REMINDER_DEADLINE:-120}
SCRIPTS_ONLY=${BENCH_REMINDER_SCRIPTS_ONLY:-0}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
AMQP_URL=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}

# shellcheck source=bench/own-redis.sh
source "$HERE/own-redis.sh"
bounded BENCH_REMINDER_PATIENTS "$PATIENTS" 1 1000000
bounded BENCH_REMINDER_PER_PATIENT "$PER_PATIENT" 1 50
bounded BENCH_REMINDER_WINDOW "$WINDOW" 1 3600
bounded BENCH_REMINDER_LEAD "$LEAD" 1 3600
bounded BENCH_REMINDER_CONCURRENCY "$CONCURRENCY" 1 4096
bounded BENCH_REMINDER_AOF "$AOF" 0 1
bounded BENCH_REMINDER_DEADLINE "$DEADLINE" 1 3600
bounded BENCH_REMINDER_SCRIPTS_ONLY "$SCRIPTS_ONLY" 0 1
if ((COMPARE && SCRIPTS_ONLY)); then
  die "--compare needs the full run (BENCH_REMINDER_SCRIPTS_ONLY=0)"
fi
if ((COMPARE)); then
  command -v node >/dev/null || die "--compare needs node (20 or later) for BullMQ"
fi
for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
# About 1 KB of Redis per reminder at most, twice over for AOF rewrites, plus the services.
need_memory $((PATIENTS * PER_PATIENT * 2 / 1000 + 1000))

if [[ $SKIP_BUILD != 1 ]]; then
  log "building release binaries (cargo may wait for the shared target dir's lock)"
  (cd "$ROOT" && cargo build --release --bin reminder-service --bin hospital-bench-reminders) ||
    die "cargo build --release failed (see above)"
fi
for bin in reminder-service hospital-bench-reminders; do
  [[ -x $BIN_DIR/$bin ]] || die "no binary $BIN_DIR/$bin"
done

start_own_redis reminders "$AOF"

mkdir -p "$RESULTS_DIR"
suffix=aof
[[ $AOF == 1 ]] || suffix=noaof
scripts=no
if [[ $SCRIPTS_ONLY == 1 ]]; then scripts=yes; suffix=scripts; fi
"$BIN_DIR/hospital-bench-reminders" \
  --redis-url "redis://127.0.0.1:$PORT" --redis-pid "$REDIS_PID" --amqp-url "$AMQP_URL" \
  --service-bin "$BIN_DIR/reminder-service" --log "$TMP/reminder-service.log" \
  --out "$RESULTS_DIR/reminders-$suffix.json" \
  --patients "$PATIENTS" --per-patient "$PER_PATIENT" --window "$WINDOW" --lead "$LEAD" \
  --concurrency "$CONCURRENCY" --deadline "$DEADLINE" --scripts-only "$scripts" --clk-tck "$(getconf CLK_TCK 2>/dev/null || echo 100)"
cp "$RESULTS_DIR/reminders-$suffix.json" "$RESULTS_DIR/reminders-latest.json"

if ((COMPARE)); then
  # Our redis-server stops first, so that BullMQ has the machine to itself as we had.
  stop_redis
  bullmq_suffix=""
  [[ $AOF == 1 ]] || bullmq_suffix="-noaof"
  for pattern in bunched spread; do
    log "BullMQ, $pattern due instants, the same ${PATIENTS} x ${PER_PATIENT} over ${WINDOW} s"
    BENCH_REMINDER_PATIENTS=$PATIENTS BENCH_REMINDER_PER_PATIENT=$PER_PATIENT \
      BENCH_REMINDER_WINDOW=$WINDOW BENCH_REMINDER_LEAD=$LEAD \
      BENCH_REMINDER_DEADLINE=$DEADLINE BENCH_REMINDER_AOF=$AOF \
      BENCH_BULLMQ_PATTERN=$pattern "$HERE/bullmq.sh" ||
      die "bench/bullmq.sh failed ($pattern)"
  done
  node "$HERE/bullmq/compare.mjs" "$RESULTS_DIR/reminders-$suffix.json" \
    "$RESULTS_DIR/bullmq-bunched$bullmq_suffix.json" "$RESULTS_DIR/bullmq-spread$bullmq_suffix.json" \
    "$RESULTS_DIR/reminders-compare.json" || die "comparing the reports failed"
fi
FAILED=0
