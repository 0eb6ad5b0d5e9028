#!/usr/bin/env bash
# Install prometheus + promtool and Alertmanager (prometheus-alertmanager + amtool) from Debian,
# idempotently, and make sure the packaged daemons are not running: ragtasks starts its own
# Prometheus and Alertmanager instances (tests, local stack) on ports it chooses.
set -euo pipefail

missing=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    missing+=(prometheus)
fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
    missing+=(prometheus-alertmanager)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# stop_packaged SERVICE BINARY: each package ships a service unit / init script that may start a
# daemon (prometheus on :9090; Alertmanager on :9093 plus its cluster port :9094). Stop and disable
# it wherever an init system exists; then end any daemon run as the package's user.
stop_packaged() {
    local service=$1 binary=$2
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    fi
    if [ -x "/etc/init.d/$service" ]; then
        "/etc/init.d/$service" stop >/dev/null 2>&1 || true
        command -v update-rc.d >/dev/null 2>&1 && update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
    # Only the packaged daemon: run as the package's user, or reading the package's /etc/prometheus/,
    # or started bare by the init script. Our own instances (tests, local stack) run as the developer
    # with a temp --config.file. pgrep -x matches the process name, which the kernel cuts to 15
    # characters ("prometheus-aler" for prometheus-alertmanager).
    local comm=${binary:0:15} packaged pid
    packaged=$(pgrep -u prometheus -x "$comm" || true)
    for pid in $(pgrep -x "$comm" || true); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -e '/etc/prometheus/' -e "^/usr/bin/$binary *\$"; then
            packaged="$packaged $pid"
        fi
    done
    for pid in $packaged; do
        kill "$pid" 2>/dev/null || true
    done
}

stop_packaged prometheus prometheus
stop_packaged prometheus-alertmanager prometheus-alertmanager

promtool --version 2>&1 | head -1
prometheus-alertmanager --version 2>&1 | head -1
