#!/usr/bin/env bash
# Make sure Redis and RabbitMQ answer where ragtasks will look for them (run by `make run`, `make test`,
# `make bench`, `make chaos`). Usage: scripts/services.sh ensure | ensure-tests
#
# ensure: the URLs the processes will use (RAGTASKS_BROKER_URL, RAGTASKS_RESULT_BACKEND,
# RAGTASKS_REDIS_URL; unset: the local defaults). ensure-tests: the ones the tests use
# (RAGTASKS_TEST_BROKER_URL, RAGTASKS_TEST_REDIS_URL; unset: the local defaults, as in
# tests/support/services.py), whatever RAGTASKS_* a developer has exported for a deployment.
#
# Reachability is a plain TCP connect to the configured host:port, so a service that answers is left
# alone whether or not its CLI tools are installed here. Only a service configured on this machine
# (127.0.0.1/localhost/::1) that does not answer is started, and only if its server is installed (CI
# may find one stopped, or a RabbitMQ app a crashed outage test left stopped); anything else stops
# here with one line saying what is missing.
set -euo pipefail

fail() { echo "services.sh: $*" >&2; exit 1; }

# split_url URL DEFAULT_PORT: sets HOST and PORT from scheme://[user[:pass]@]host[:port][/...] (the
# first of a ;-separated failover list; [::1] style hosts too).
split_url() {
  local rest=${1%%;*}
  rest=${rest#*://}; rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}
  if [[ $rest =~ ^\[(.*)\](:([0-9]+))?$ ]]; then HOST=${BASH_REMATCH[1]} PORT=${BASH_REMATCH[3]}
  elif [[ $rest == *:* ]]; then HOST=${rest%:*} PORT=${rest##*:}
  else HOST=$rest PORT=""
  fi
  HOST=${HOST:-127.0.0.1} PORT=${PORT:-$2}
}

reachable() {  # reachable HOST PORT: something accepts a TCP connection there
  # shellcheck disable=SC2016  # $0 and $1 are expanded by the inner bash, from the arguments after it
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

wait_reachable() {  # wait_reachable HOST PORT SECONDS
  local i
  for ((i = 0; i < $3; i++)); do reachable "$1" "$2" && return 0; sleep 1; done
  return 1
}

is_local() { case $1 in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac; }

# unreachable WHAT HOST PORT VAR BINARY PACKAGE: fail unless a local server can be started.
unreachable() {
  local what=$1 host=$2 port=$3 var=$4 binary=$5 package=$6 addr=$2:$3
  if [[ $host == *:* ]]; then addr="[$host]:$port"; fi
  if ! is_local "$host"; then
    fail "$what is not reachable at $addr ($var): start it there or point $var at one that is"
  fi
  if ! command -v "$binary" >/dev/null 2>&1; then
    fail "$what is not reachable at $addr and $binary is not installed: install it" \
      "(Debian/Ubuntu: apt-get install $package) or set $var to a reachable $what"
  fi
}

ensure_redis() {  # ensure_redis VAR: the Redis of that variable's URL (or the default)
  local var=$1 url=${!1:-redis://127.0.0.1:6379/0}
  case $url in redis://* | rediss://*) ;; *) return 0 ;; esac  # sentinel:// and others: not ours to start
  split_url "$url" 6379
  reachable "$HOST" "$PORT" && return 0
  unreachable Redis "$HOST" "$PORT" "$var" redis-server redis-server
  echo "starting redis on port $PORT"
  mkdir -p /var/lib/redis /var/log/redis || fail "cannot create /var/lib/redis: start Redis yourself or set $var"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_reachable "$HOST" "$PORT" 10 || fail "redis-server did not start listening on $PORT (/var/log/redis/ci.log)"
}

ensure_rabbitmq() {  # ensure_rabbitmq VAR
  local var=$1 url=${!1:-amqp://guest:guest@127.0.0.1:5672//}
  split_url "$url" 5672
  if ! reachable "$HOST" "$PORT"; then
    unreachable RabbitMQ "$HOST" "$PORT" "$var" rabbitmq-server rabbitmq-server
    echo "starting rabbitmq"
    # A running node whose app was stopped (`rabbitmqctl stop_app`) only needs its app started.
    rabbitmqctl -q start_app >/dev/null 2>&1 || rabbitmq-server -detached || true
    wait_reachable "$HOST" "$PORT" 120 || fail "rabbitmq did not start listening on $PORT (see its logs)"
  fi
  ensure_management "$HOST"
}

# The management API: queue depth metrics, KEDA's `protocol: http`, Flower's broker tab, the tests'
# vhosts. Enabled only on a local broker where it does not answer yet; elsewhere a warning.
ensure_management() {
  split_url "${RAGTASKS_RABBITMQ_MANAGEMENT_URL:-http://$1:15672}" 15672
  reachable "$HOST" "$PORT" && return 0
  if is_local "$HOST" && command -v rabbitmq-plugins >/dev/null 2>&1; then
    echo "enabling rabbitmq_management"
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 || true
    wait_reachable "$HOST" "$PORT" 30 && return 0
  fi
  echo "services.sh: warning: RabbitMQ's management API is not reachable at $HOST:$PORT (enable the" \
    "rabbitmq_management plugin, or set RAGTASKS_RABBITMQ_MANAGEMENT_URL): no queue-depth metrics" >&2
}

ensure() {
  ensure_rabbitmq RAGTASKS_BROKER_URL
  ensure_redis RAGTASKS_RESULT_BACKEND
  if [ -n "${RAGTASKS_REDIS_URL:-}" ]; then ensure_redis RAGTASKS_REDIS_URL; fi
}

ensure_tests() {
  ensure_rabbitmq RAGTASKS_TEST_BROKER_URL
  ensure_redis RAGTASKS_TEST_REDIS_URL
}

case "${1:-ensure}" in
  ensure) ensure ;;
  ensure-tests) ensure_tests ;;
  *) fail "usage: scripts/services.sh ensure | ensure-tests" ;;
esac
