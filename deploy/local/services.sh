# shellcheck shell=bash
# The services `make up` runs, in start order (`make down` stops them in reverse).
# Sourced by up.sh, down.sh and bootstrap.sh; never run.
#
# One line per service:   name  port  env-prefix  needs...
#   name         the binary (`cargo build --bin <name>`), log and pid file name
#   port         its HTTP port: sets <PREFIX>__HTTP__PORT
#   needs, any of:
#     db=NAME    a PostgreSQL database (bootstrap.sh creates it): <PREFIX>__DATABASE__URL
#     events     the broker: <PREFIX>__EVENTS__AMQP_URL, <PREFIX>__EVENTS__EXCHANGE
#     jwt-signer signs access tokens: `<name> keygen` makes the development key if
#                absent, <PREFIX>__JWT__PRIVATE_KEY_FILE; the JWKS URL points here
#     jwks       verifies access tokens: <PREFIX>__AUTH__JWKS_URL
#     access     confirms doctors' access with the token signer: <PREFIX>__AUTH__URL
#     redis      <PREFIX>__REDIS__URL
#     crypto     opens or seals clinical content: <PREFIX>__CRYPTO__KEYS, the development
#                content key (up.sh makes it if absent)
#     routed=KEY the gateway forwards to it: GATEWAY__UPSTREAMS__<KEY>
#     VAR=VALUE  any other default; "{root}" stands for the repository's folder
# Every variable is a default: one already set in the caller's environment wins.
SERVICES=(
  "auth-service      8081  AUTH      db=hospital_auth events jwt-signer routed=AUTH AUTH__SECURITY__TRUST_FORWARDED_FOR=true"
  "gateway           8080  GATEWAY   jwks"
  "notes-service     8082  NOTES     db=hospital_notes events jwks access crypto routed=NOTES"
  "reminder-service  8083  REMINDER  events jwks access redis crypto routed=REMINDERS"
  "llm-worker        8084  LLM       events crypto"
)

# service_names: each service's name, in start order.
service_names() {
  local line
  for line in "${SERVICES[@]}"; do
    printf '%s\n' "${line%% *}"
  done
}

# service_field NAME FIELD: FIELD (port, prefix or needs) of the service NAME.
service_field() {
  local line name port prefix needs
  for line in "${SERVICES[@]}"; do
    read -r name port prefix needs <<<"$line"
    [[ $name == "$1" ]] || continue
    case $2 in
      port) printf '%s\n' "$port" ;;
      prefix) printf '%s\n' "$prefix" ;;
      needs) printf '%s\n' "$needs" ;;
      *) return 2 ;;
    esac
    return 0
  done
  return 1
}

# service_port NAME: the port it listens on, the caller's <PREFIX>__HTTP__PORT first.
service_port() {
  local prefix var
  prefix=$(service_field "$1" prefix) || return 1
  var="${prefix}__HTTP__PORT"
  printf '%s\n' "${!var:-$(service_field "$1" port)}"
}

# service_databases: every db=NAME of every service, one a line.
service_databases() {
  local line need
  for line in "${SERVICES[@]}"; do
    for need in $line; do
      [[ $need == db=* ]] && printf '%s\n' "${need#db=}"
    done
  done
  return 0
}

# jwt_signer: the name of the service that signs access tokens (empty if none).
jwt_signer() {
  local line
  for line in "${SERVICES[@]}"; do
    if [[ " $line " == *" jwt-signer "* ]]; then
      printf '%s\n' "${line%% *}"
      return 0
    fi
  done
}

# default_key_file: where `make up` keeps the development signing key.
default_key_file() { printf '%s\n' "$KEY_DIR/jwt-ed25519.pem"; }

# content_keys_file: where `make up` keeps the development content key (`kid:base64`).
content_keys_file() { printf '%s\n' "$KEY_DIR/content-keys"; }

# needs_crypto: whether any service opens or seals clinical content.
needs_crypto() {
  local line
  for line in "${SERVICES[@]}"; do
    [[ " $line " == *" crypto "* ]] && return 0
  done
  return 1
}

# service_defaults NAME: VAR=VALUE lines, the variables NAME gets unless the caller
# already set them.
service_defaults() {
  local name=$1 prefix needs need signer line other other_needs
  prefix=$(service_field "$name" prefix) || return 1
  needs=$(service_field "$name" needs)
  printf '%s__HTTP__PORT=%s\n' "$prefix" "$(service_port "$name")"
  for need in $needs; do
    case $need in
      db=*) printf '%s__DATABASE__URL=%s/%s\n' "$prefix" "$PG_ADMIN_BASE" "${need#db=}" ;;
      events)
        printf '%s__EVENTS__AMQP_URL=%s\n' "$prefix" "$LOCAL_AMQP_URL"
        printf '%s__EVENTS__EXCHANGE=%s\n' "$prefix" "$LOCAL_EVENTS_EXCHANGE"
        ;;
      jwt-signer) printf '%s__JWT__PRIVATE_KEY_FILE=%s\n' "$prefix" "$(default_key_file)" ;;
      jwks)
        signer=$(jwt_signer)
        [[ -n $signer ]] || continue
        printf '%s__AUTH__JWKS_URL=http://127.0.0.1:%s/.well-known/jwks.json\n' \
          "$prefix" "$(service_port "$signer")"
        ;;
      access)
        signer=$(jwt_signer)
        [[ -n $signer ]] || continue
        printf '%s__AUTH__URL=http://127.0.0.1:%s\n' "$prefix" "$(service_port "$signer")"
        ;;
      redis) printf '%s__REDIS__URL=redis://127.0.0.1:%s\n' "$prefix" "$REDIS_PORT" ;;
      crypto)
        [[ -s $(content_keys_file) ]] || continue
        printf '%s__CRYPTO__KEYS=%s\n' "$prefix" "$(<"$(content_keys_file)")"
        ;;
      routed=*) ;; # read by the gateway, below
      *=*) printf '%s\n' "${need//\{root\}/$ROOT}" ;;
      *) warn "services.sh: $name: unknown need '$need'" ;;
    esac
  done
  if [[ $name == gateway ]]; then
    for line in "${SERVICES[@]}"; do
      read -r other _ _ other_needs <<<"$line"
      for need in $other_needs; do
        [[ $need == routed=* ]] || continue
        printf 'GATEWAY__UPSTREAMS__%s=http://127.0.0.1:%s\n' \
          "${need#routed=}" "$(service_port "$other")"
      done
    done
  fi
}
