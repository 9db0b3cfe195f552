#!/usr/bin/env bash
# The offline extractor's speed on real text: notes per second and p50/p99/max per note,
# for every labelled note read one by one and for the same text joined into 2,000-character
# notes (issue 14's aim: under 1 ms at p99). Pure code, so no servers are needed.
#
#   bench/extract.sh            # the latency bench (about a minute with the release build)
#   BENCH_CRITERION=1 bench/extract.sh   # also criterion's typical note and 1k/10k/100k growth
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 cargo bench -p hospital-extract --bench latency
if [[ "${BENCH_CRITERION:-0}" == 1 ]]; then
  nice -n 10 cargo bench -p hospital-extract --bench extract
fi
