#!/usr/bin/env bash
# `make up`: the backing servers (bootstrap.sh), a release build, the development
# signing key, then every service of services.sh in the background, each waited for
# until its /readyz answers 200. A service already running (its pid file names a live
# process of that binary) is left alone, so running this twice starts nothing twice.
#   logs:      .local/logs/<service>.log      pid files: .local/run/<service>.pid
#   READY_TIMEOUT  seconds each service gets to become ready (default 90)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=services.sh
source "$HERE/services.sh"

READY_TIMEOUT=${READY_TIMEOUT:-90}
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN_DIR="$TARGET_DIR/release"

# running_pid NAME: prints the pid of NAME when its pid file names a live process of
# that binary; removes a stale pid file.
running_pid() {
  local pid_file="$RUN_DIR/$1.pid" pid exe
  [[ -f $pid_file ]] || return 1
  pid=$(<"$pid_file")
  if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    exe=${exe% (deleted)} # the binary was rebuilt while it ran
    if [[ ${exe##*/} == "$1" ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  rm -f "$pid_file"
  return 1
}

# this_run_log NAME: the end of NAME's log since up.sh last started it.
this_run_log() {
  local log="$LOG_DIR/$1.log"
  printf -- '--- %s, this run ---\n' "${log#"$ROOT"/}" >&2
  awk -v mark="==== $1 starting" 'index($0, mark) == 1 { n = 0; next } { line[++n] = $0 }
    END { for (i = (n > 40 ? n - 39 : 1); i <= n; i++) print "  " line[i] }' "$log" >&2
  printf -- '---\n' >&2
}

# ready PORT: /readyz answers 200.
ready() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    "http://127.0.0.1:$1/readyz" 2>/dev/null) == 200 ]]
}

BOOTSTRAP_CALLER=up "$HERE/bootstrap.sh"
mkdir -p "$LOG_DIR" "$RUN_DIR" "$KEY_DIR"

# Redis holds the only copy of the reminders: run it with the append-only file, fsynced
# every second. A Redis started by bootstrap.sh has it; a reused one is switched on at
# run time (CONFIG SET), unless HOSPITAL_KEEP_REDIS_CONFIG=1 asks to leave it alone.
redis_config() { timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null || true; }
if [[ $(redis_config CONFIG GET appendonly | sed -n 2p) == no ]]; then
  if [[ ${HOSPITAL_KEEP_REDIS_CONFIG:-0} == 1 ]]; then
    warn "the Redis on 127.0.0.1:$REDIS_PORT runs without its append-only file: reminders would not survive a Redis restart (HOSPITAL_KEEP_REDIS_CONFIG=1 leaves it so)"
  elif previous_fsync=$(redis_config CONFIG GET appendfsync | sed -n 2p) &&
    [[ $(redis_config CONFIG SET appendonly yes) == OK && $(redis_config CONFIG SET appendfsync everysec) == OK ]]; then
    # make down puts it back as it was.
    printf '%s\n' "${previous_fsync:-everysec}" >"$LOCAL_DIR/redis-aof-turned-on"
    printf 'up: turned on the append-only file of the Redis on 127.0.0.1:%s (CONFIG SET appendonly yes, appendfsync everysec; make down turns it off again)\n' "$REDIS_PORT"
  else
    warn "could not turn on the append-only file of the Redis on 127.0.0.1:$REDIS_PORT: reminders would not survive a Redis restart (redis-cli CONFIG SET appendonly yes)"
  fi
fi
chmod 700 "$KEY_DIR"

mapfile -t names < <(service_names)
bins=()
for name in "${names[@]}"; do bins+=(--bin "$name"); done
if ! (cd "$ROOT" && cargo build --release "${bins[@]}"); then
  die "cargo build --release ${bins[*]} failed (see above)"
fi

# The development signing key, unless the caller points at a key of their own.
signer=$(jwt_signer)
if [[ -n $signer ]]; then
  key_var="$(service_field "$signer" prefix)__JWT__PRIVATE_KEY_FILE"
  key_file=${!key_var:-$(default_key_file)}
  if [[ ! -s $key_file ]]; then
    [[ $key_file == "$(default_key_file)" ]] || die "$key_var=$key_file: no such key file"
    if ! "$BIN_DIR/$signer" keygen --out "$key_file" >>"$LOG_DIR/$signer.log" 2>&1; then
      tail_log "$LOG_DIR/$signer.log" 10
      die "$signer keygen --out $key_file failed"
    fi
    printf 'up: made a development signing key: %s\n' "${key_file#"$ROOT"/}"
  fi
fi

# The development content key (clinical content at rest and in events), shared by the
# services that seal or open it.
if needs_crypto && [[ ! -s $(content_keys_file) ]]; then
  (umask 077 && printf 'dev-1:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$(content_keys_file)")
  printf 'up: made a development content key: %s\n' "$(content_keys_file | sed "s|^$ROOT/||")"
fi

for name in "${names[@]}"; do
  port=$(service_port "$name")
  log="$LOG_DIR/$name.log"
  if pid=$(running_pid "$name"); then
    printf 'up: %s is already running (pid %s); make down, then make up, restarts it\n' \
      "$name" "$pid"
  else
    [[ -x $BIN_DIR/$name ]] || die "no binary $BIN_DIR/$name after the build"
    if tcp_open "$port"; then
      die "port $port, which $name needs, is taken by another process (ss -ltnp 'sport = :$port' tells which)"
    fi
    # Defaults for what the caller did not set; the caller's environment passes as is.
    env_args=()
    while IFS= read -r pair; do
      var=${pair%%=*}
      [[ -n ${!var+set} ]] || env_args+=("$pair")
    done < <(service_defaults "$name")
    printf '\n==== %s starting at %s\n' "$name" "$(date -Is)" >>"$log"
    # setsid: Ctrl-C in this terminal later does not reach it; `make down` stops it.
    (cd "$ROOT" && exec setsid nohup env "${env_args[@]}" "$BIN_DIR/$name" </dev/null >>"$log" 2>&1) &
    pid=$!
    printf '%s\n' "$pid" >"$RUN_DIR/$name.pid"
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until ready "$port"; do
    if ! alive "$pid"; then
      rm -f "$RUN_DIR/$name.pid"
      this_run_log "$name"
      die "$name exited before it became ready (log: ${log#"$ROOT"/})"
    fi
    if ((SECONDS >= deadline)); then
      this_run_log "$name"
      die "$name (pid $pid) did not answer 200 on http://127.0.0.1:$port/readyz within ${READY_TIMEOUT}s; it is still running: \`make down\` stops it"
    fi
    sleep 0.5
  done
done

printf 'Gateway: http://127.0.0.1:%s\n' "$(service_port gateway)"
printf 'RabbitMQ console: http://127.0.0.1:%s (guest/guest)   logs: %s/\n' \
  "$AMQP_MANAGEMENT_PORT" "${LOG_DIR#"$ROOT"/}"
