#!/usr/bin/env bash
# `make run`: the whole system on this machine, on embedded defaults.
#   gateway :8000, workers summarizer/evaluator/alerter (metrics :9101-9103), beat (:9104),
#   Flower :5555, a Mongo server (SecantusDB) unless RAGTASKS_MONGODB_URL is set, and a local
#   WeCom-compatible sink (:8099) that prints the alerts it receives.
# Then it pushes a small real workload through it (a chat that gets summarized, a recall
# evaluation, an alert) and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.run
BIN=$ROOT/.venv/bin
mkdir -p "$RUN/logs"

bash scripts/services.sh ensure

pids=()
cleanup() {
  echo; echo "stopping ragtasks..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start() {  # start NAME CMD...: own process group, log in .run/logs/NAME.log
  local name=$1; shift
  setsid "$@" >"$RUN/logs/$name.log" 2>&1 &
  pids+=($!)
  echo "  started $name (pid $!, log .run/logs/$name.log)"
}

wait_http() {  # wait_http URL SECONDS
  for _ in $(seq 1 $(( $2 * 5 ))); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "timed out waiting for $1" >&2; return 1
}

export RAGTASKS_ENVIRONMENT=${RAGTASKS_ENVIRONMENT:-development}
export RAGTASKS_API_KEYS=${RAGTASKS_API_KEYS:-dev-key}
# Small thresholds so the demo's short chat is summarized; override freely.
export RAGTASKS_SUMMARY_TRIGGER_TOKENS=${RAGTASKS_SUMMARY_TRIGGER_TOKENS:-300}
export RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES=${RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES:-2}
export RAGTASKS_LOG_JSON=${RAGTASKS_LOG_JSON:-true}
export RAGTASKS_ALERT_GROUP_WAIT_SECONDS=${RAGTASKS_ALERT_GROUP_WAIT_SECONDS:-5}
export RAGTASKS_WECOM_WEBHOOK_URL=${RAGTASKS_WECOM_WEBHOOK_URL:-http://127.0.0.1:8099/cgi-bin/webhook/send?key=demo-key}

echo "ragtasks: starting the local system"
if [ -z "${RAGTASKS_MONGODB_URL:-}" ]; then
  mkdir -p "$RUN/mongo-data"
  start mongo "$ROOT/.venv-mongo/bin/secantusd-py" --host 127.0.0.1 --port 27017 --storage-path "$RUN/mongo-data"
  export RAGTASKS_MONGODB_URL="mongodb://127.0.0.1:27017/?retryWrites=false"
  sleep 1
fi

if "$BIN/python" -c "import ragtasks_alerter.demo_sink" 2>/dev/null; then
  start wecom-sink "$BIN/python" -m ragtasks_alerter.demo_sink --port 8099
fi

# The multiprocess metrics directory of each component: set and wiped here, not from Python.
component_env() { local dir="$RUN/prom/$1"; rm -rf "$dir"; mkdir -p "$dir"; echo "PROMETHEUS_MULTIPROC_DIR=$dir"; }

start gateway env "$(component_env gateway)" "$BIN/ragtasks" gateway --host 127.0.0.1 --port 8000
for w in summarizer evaluator alerter; do
  start "worker-$w" env "$(component_env "$w")" "$BIN/ragtasks" worker "$w"
done
start beat "$BIN/ragtasks" beat --schedule-file "$RUN/beat-schedule"
start flower "$BIN/ragtasks" flower --port 5555

wait_http http://127.0.0.1:8000/readyz 60
for port in 9101 9102 9103; do wait_http "http://127.0.0.1:$port/healthz" 60; done
wait_http http://127.0.0.1:5555/healthcheck 60 || true

cat <<MSG

ragtasks is up:
  gateway     http://127.0.0.1:8000   (API key: $RAGTASKS_API_KEYS; docs at /docs)
  flower      http://127.0.0.1:5555
  metrics     gateway :8000/metrics, workers :9101 :9102 :9103, beat :9104
  logs        .run/logs/

Pushing a small workload through it...
MSG
"$BIN/python" scripts/demo.py --gateway http://127.0.0.1:8000 --api-key "${RAGTASKS_API_KEYS%%,*}" || \
  echo "(the demo workload failed; see above and .run/logs/)"

echo
echo "Serving. Press Ctrl-C to stop."
wait
