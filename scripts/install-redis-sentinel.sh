#!/usr/bin/env bash
# Install redis-sentinel from Debian, idempotently, and keep the packaged daemon stopped: the Redis
# HA tests (tests/integration/ha/) start their own sentinel and Redis servers on free ports.
set -euo pipefail

# Only redis-sentinel (and redis-tools, whose one binary is also the server the tests run as master
# and replica): the redis-server package would start a daemon on :6379, where the machine's or
# CI's own Redis already listens.
if ! command -v redis-sentinel >/dev/null 2>&1; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)  # a developer's or GitHub's runner account
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends redis-sentinel >/dev/null
fi

# The package's unit / init script would run a sentinel on :26379 watching the machine's Redis.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now redis-sentinel.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/redis-sentinel ]; then
    /etc/init.d/redis-sentinel stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d redis-sentinel disable >/dev/null 2>&1 || true
fi
# Only the packaged daemon reads /etc/redis/sentinel.conf; the tests' sentinels read a temp file.
for pid in $(pgrep -x redis-sentinel || true); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/redis/sentinel.conf'; then
        kill "$pid" 2>/dev/null || true
    fi
done

redis-sentinel --version | head -1
