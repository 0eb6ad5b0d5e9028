#!/usr/bin/env bash
# Make sure the machine's RabbitMQ and Redis are up (they normally are; CI may find one stopped).
# Usage: scripts/services.sh ensure
set -euo pipefail

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
rabbit_up() { rabbitmqctl -q status >/dev/null 2>&1 && rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; }

ensure() {
  if [ -n "${RAGTASKS_TEST_BROKER_URL:-}" ]; then return 0; fi  # CI with service containers
  if ! redis_up; then
    echo "starting redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  if ! rabbit_up; then
    echo "starting rabbitmq"
    rabbitmq-server -detached || true
    for _ in $(seq 1 60); do rabbit_up && break; sleep 2; done
  fi
  # The management API: queue depth metrics, KEDA's `protocol: http`, Flower's broker tab.
  if ! curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null; then
    rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
  fi
  # A stopped app (e.g. a test that ran `rabbitmqctl stop_app` and died) is started again.
  rabbitmqctl -q start_app >/dev/null 2>&1 || true
  redis_up || { echo "redis is not reachable" >&2; exit 1; }
  rabbit_up || { echo "rabbitmq is not reachable" >&2; exit 1; }
}

"${1:-ensure}"
