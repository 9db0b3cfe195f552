#!/usr/bin/env bash
# `bench/bullmq.sh`: BullMQ at the reminder-dispatch benchmark's job, as a reference for
# `bench/run.sh reminders` (which runs it for `--compare`). BullMQ is a yardstick for the
# benchmark only, never a dependency of the product.
#
#   1. `npm ci` in bench/bullmq if its node_modules is missing (needs the npm registry);
#   2. starts its OWN redis-server on a free loopback port (never 6379), AOF on with
#      appendfsync everysec as bench/reminders.sh does, maxmemory-policy noeviction (as
#      BullMQ requires), its files in a temporary folder;
#   3. bench/bullmq/bench.mjs seeds PATIENTS x PER_PATIENT delayed jobs due over WINDOW
#      seconds from LEAD seconds after seeding starts (bunched on whole seconds as ours,
#      or spread to the millisecond), reads Redis memory before and after, forks a BullMQ
#      Worker and counts what it receives: throughput, lateness p50/p99/max, duplicates,
#      lost, CPU per process; prints a table and writes bench/results/bullmq-<pattern>.json;
#   4. stops the redis-server and removes its folder (trap on EXIT).
#
# Knobs (environment), the same as bench/reminders.sh's where they exist:
#   BENCH_REMINDER_PATIENTS=100000  BENCH_REMINDER_PER_PATIENT=10  (jobs = their product)
#   BENCH_REMINDER_WINDOW=60        seconds the due instants spread over
#   BENCH_REMINDER_LEAD=40          the window starts this long after seeding starts
#   BENCH_BULLMQ_LEAD               the same for BullMQ alone; by default BENCH_REMINDER_LEAD
#                                   or, if longer, 5 s + 1 s per 9,000 jobs (117 s for
#                                   1,000,000): BullMQ seeds 10,000-22,000 jobs/s here,
#                                   and jobs added after their due instant would charge
#                                   the seeding to its lateness
#   BENCH_REMINDER_DEADLINE=120     stop this long after the window ends
#   BENCH_REMINDER_AOF=1            0: Redis without AOF (bullmq-<pattern>-noaof.json)
#   BENCH_BULLMQ_PATTERN=bunched    bunched (whole seconds, as ours) or spread (ms-uniform)
#   BENCH_BULLMQ_CONCURRENCY=200    jobs in flight per worker process
#   BENCH_BULLMQ_WORKERS=1          worker processes
#   BENCH_BULLMQ_TITLE_BYTES=400    the opaque stand-in for the sealed title in each job
#   BENCH_KEEP_TMP=0
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP="$HERE/bullmq"
RESULTS_DIR="$HERE/results"

PATIENTS=${BENCH_REMINDER_PATIENTS:-100000}
PER_PATIENT=${BENCH_REMINDER_PER_PATIENT:-10}
WINDOW=${BENCH_REMINDER_WINDOW:-60}
LEAD=${BENCH_REMINDER_LEAD:-40}
DEADLINE=${BENCH_REMINDER_DEADLINE:-120}
AOF=${BENCH_REMINDER_AOF:-1}
PATTERN=${BENCH_BULLMQ_PATTERN:-bunched}
CONCURRENCY=${BENCH_BULLMQ_CONCURRENCY:-200}
WORKERS=${BENCH_BULLMQ_WORKERS:-1}
TITLE_BYTES=${BENCH_BULLMQ_TITLE_BYTES:-400}

# shellcheck source=bench/own-redis.sh
source "$HERE/own-redis.sh"
bounded BENCH_REMINDER_PATIENTS "$PATIENTS" 1 1000000
bounded BENCH_REMINDER_PER_PATIENT "$PER_PATIENT" 1 50
bounded BENCH_REMINDER_WINDOW "$WINDOW" 1 3600
bounded BENCH_REMINDER_LEAD "$LEAD" 1 3600
seeding_lead=$(((PATIENTS * PER_PATIENT + 8999) / 9000 + 5))
if ((seeding_lead > LEAD)); then LEAD=$seeding_lead; fi
LEAD=${BENCH_BULLMQ_LEAD:-$LEAD}
bounded BENCH_BULLMQ_LEAD "$LEAD" 1 3600
bounded BENCH_REMINDER_DEADLINE "$DEADLINE" 1 3600
bounded BENCH_REMINDER_AOF "$AOF" 0 1
bounded BENCH_BULLMQ_CONCURRENCY "$CONCURRENCY" 1 10000
bounded BENCH_BULLMQ_WORKERS "$WORKERS" 1 16
bounded BENCH_BULLMQ_TITLE_BYTES "$TITLE_BYTES" 0 100000
[[ $PATTERN == bunched || $PATTERN == spread ]] ||
  die "BENCH_BULLMQ_PATTERN=$PATTERN: expected bunched or spread"
for tool in redis-server redis-cli node npm; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old: BullMQ's bench wants 20 or later"
# BullMQ keeps a job in a hash of its own: ~1.5 KB of Redis each, twice for AOF rewrites,
# plus the processes.
need_memory $((PATIENTS * PER_PATIENT * 3 / 1000 + 1000))

if [[ ! -d $APP/node_modules ]]; then
  log "installing BullMQ (npm ci in $APP)"
  (cd "$APP" && npm ci --no-audit --no-fund) || die "npm ci failed (it needs the npm registry)"
fi

# BullMQ requires noeviction (it changes nothing here).
start_own_redis bullmq "$AOF" --maxmemory-policy noeviction
log "$((PATIENTS * PER_PATIENT)) jobs ($PATTERN) over ${WINDOW} s, lead ${LEAD} s (ours ${BENCH_REMINDER_LEAD:-40} s)"

mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/bullmq-$PATTERN.json"
[[ $AOF == 1 ]] || out="$RESULTS_DIR/bullmq-$PATTERN-noaof.json"
# Room for the seeding of a million small objects and the per-job arrays.
node --max-old-space-size=4096 "$APP/bench.mjs" \
  --redis-url "redis://127.0.0.1:$PORT" --jobs $((PATIENTS * PER_PATIENT)) \
  --per-patient "$PER_PATIENT" --window "$WINDOW" --lead "$LEAD" --deadline "$DEADLINE" \
  --pattern "$PATTERN" --concurrency "$CONCURRENCY" --workers "$WORKERS" \
  --title-bytes "$TITLE_BYTES" --clk-tck "$(getconf CLK_TCK 2>/dev/null || echo 100)" \
  --out "$out"
log "report: $out"
FAILED=0
