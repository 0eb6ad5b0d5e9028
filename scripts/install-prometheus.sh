#!/usr/bin/env bash
# Install prometheus + promtool from Debian, idempotently, and make sure the packaged daemon is not
# running: ragtasks starts its own Prometheus instances (tests, local stack) on ports it chooses.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# The package ships a service unit / init script that may start a daemon on :9090. Stop and
# disable it wherever an init system exists; then end any daemon run as the package's user.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
# Only the packaged daemon: run as the package's user, or reading the package's /etc/prometheus/.
# Our own instances (tests, local stack) run as the developer with a temp --config.file.
packaged=$(pgrep -u prometheus -x prometheus || true)
for pid in $(pgrep -x prometheus || true); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -e '/etc/prometheus/' -e '^/usr/bin/prometheus *$'; then
        packaged="$packaged $pid"
    fi
done
for pid in $packaged; do
    kill "$pid" 2>/dev/null || true
done

promtool --version 2>&1 | head -1
