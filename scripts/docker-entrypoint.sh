#!/bin/sh
# Start-up script of the ragtasks image: every role (gateway, worker, beat, flower) goes through it.
# Prefork workers keep Prometheus metrics in per-process files (prometheus_client multiprocess
# mode). Files left by a previous run would be summed into the new one's counters, so the
# directory is created and wiped here, before any process of this container writes to it.
set -eu

: "${PROMETHEUS_MULTIPROC_DIR:=/tmp/ragtasks-metrics}"
export PROMETHEUS_MULTIPROC_DIR
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# Remove the contents, not the directory: in Kubernetes it is an emptyDir mount point.
find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete

exec ragtasks "$@"
