#!/usr/bin/env bash
# `make run`: the whole system on this machine, on embedded defaults.
#   gateway :8000, workers summarizer/evaluator/alerter (metrics :9101-9103), beat (:9104),
#   Flower :5555, a Mongo server (SecantusDB, :27017 or RAGTASKS_LOCAL_MONGO_PORT) unless
#   RAGTASKS_MONGODB_URL is set, and a local WeCom-compatible sink (:8099) that prints the alerts it
#   receives. Every port is checked free first: nothing is started beside a server already there.
# Then it pushes a small real workload through it (a chat that gets summarized, a recall
# evaluation, an alert) and keeps serving until Ctrl-C or `make stop` (scripts/run-local.sh stop).
#
# Stopping goes by SIGTERM to this script, whose pid is in .run/run.pid: `make run` started in the
# background of a non-interactive shell inherits SIGINT ignored, and bash can neither trap nor reset
# a signal ignored on entry, so `kill -INT` would do nothing there. The trap stops every component's
# process group (recorded in .run/run.groups) and exits 0, so make reports no error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)  # physical: compared with /proc/<pid>/cwd, which resolves symlinks
RUN=$ROOT/.run
BIN=$ROOT/.venv/bin
PIDFILE=$RUN/run.pid
GROUPS_FILE=$RUN/run.groups
MONGO_PORT=${RAGTASKS_LOCAL_MONGO_PORT:-27017}
METRICS_PORTS=(
  "${RAGTASKS_SUMMARIZER_METRICS_PORT:-9101}" "${RAGTASKS_EVALUATOR_METRICS_PORT:-9102}"
  "${RAGTASKS_ALERTER_METRICS_PORT:-9103}" "${RAGTASKS_BEAT_METRICS_PORT:-9104}"
)

port_open() {  # port_open PORT: something on this machine listens there
  # shellcheck disable=SC2016  # $0 is expanded by the inner bash, from the argument after it
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

running_pid() {  # the pid of this checkout's run-local.sh that is serving, if any
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && ps -o args= -p "$pid" 2>/dev/null | grep -q "run-local.sh" || return 1
  # Another checkout's run that got a recycled pid is not ours (its working directory tells).
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null || echo "$ROOT")" = "$ROOT" ] && echo "$pid"
}

group_alive() { pgrep -g "$1" -f "$ROOT/" >/dev/null 2>&1; }  # a process of ours in group $1

# stop_groups SECONDS PGID...: TERM each process group, KILL what is left after SECONDS.
stop_groups() {
  local seconds=$1 pgid left=() deadline; shift
  deadline=$((SECONDS + seconds))
  for pgid in "$@"; do group_alive "$pgid" && kill -TERM -- "-$pgid" 2>/dev/null || true; done
  while ((SECONDS < deadline)); do
    left=()
    for pgid in "$@"; do group_alive "$pgid" && left+=("$pgid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  echo "killing what did not stop within ${seconds}s: process groups ${left[*]}" >&2
  for pgid in "${left[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
}

# stop_recorded SECONDS: every component this checkout's run recorded, the Mongo server last: a
# worker's pool child closing its MongoClient waits (up to 30 s) for a server it can reach.
stop_recorded() {
  local name pgid apps=() servers=()
  [ -f "$GROUPS_FILE" ] || return 0
  while read -r name pgid; do
    group_alive "$pgid" || continue
    if [ "$name" = mongo ]; then servers+=("$pgid"); else apps+=("$pgid"); fi
  done <"$GROUPS_FILE"
  if [ ${#apps[@]} -gt 0 ]; then stop_groups "$1" "${apps[@]}"; fi
  if [ ${#servers[@]} -gt 0 ]; then stop_groups "$1" "${servers[@]}"; fi
}

any_recorded_alive() {
  local pgid
  [ -f "$GROUPS_FILE" ] || return 1
  while read -r _ pgid; do group_alive "$pgid" && return 0; done <"$GROUPS_FILE"
  return 1
}

stop() {  # `make stop`: TERM the serving script and wait for it; then what a killed run left behind
  local pid i stopped=""
  if pid=$(running_pid); then
    echo "stopping ragtasks (pid $pid)..."
    kill -TERM "$pid" 2>/dev/null || true  # it may have exited since running_pid looked
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then echo "pid $pid did not exit within 60s; killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
    stopped=1
  fi
  # Left behind: the script was killed with SIGKILL, so its trap never stopped them.
  if any_recorded_alive; then
    echo "stopping the components a killed run left behind"
    stop_recorded 20
    stopped=1
  fi
  rm -f "$PIDFILE" "$GROUPS_FILE"
  if [ -n "$stopped" ]; then echo "stopped"; else echo "ragtasks is not running"; fi
}

check_ports() {  # check_ports PORT...: refuse to start beside a server already listening
  local port busy=()
  for port in "$@"; do port_open "$port" && busy+=("$port"); done
  [ ${#busy[@]} -eq 0 ] && return 0
  echo "ragtasks: port(s) ${busy[*]} on 127.0.0.1 already in use; nothing started." >&2
  if [[ " ${busy[*]} " == *" $MONGO_PORT "* ]]; then
    echo "  $MONGO_PORT: to use the Mongo server there set RAGTASKS_MONGODB_URL=mongodb://127.0.0.1:$MONGO_PORT/," \
      "or start the local one elsewhere with RAGTASKS_LOCAL_MONGO_PORT=27018" >&2
  fi
  echo "  an earlier make run? 'make stop'; else stop what listens there (ss -ltnp)" >&2
  exit 1
}

wait_port() {  # wait_port NAME PID PORT SECONDS: until the process listens, or fail if it exits
  local i
  for ((i = 0; i < $4 * 5; i++)); do
    port_open "$3" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.2
  done
  echo "$1 is not listening on :$3; the end of .run/logs/$1.log:" >&2
  tail -n 20 "$RUN/logs/$1.log" >&2
  return 1
}

wait_http() {  # wait_http URL SECONDS
  for _ in $(seq 1 $(($2 * 5))); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "timed out waiting for $1" >&2; return 1
}

cleanup() {
  trap '' INT TERM  # one stop: a second Ctrl-C must not cut it short (it is bounded: KILL after 20s)
  echo; echo "stopping ragtasks..."
  if [ -n "${demo:-}" ]; then kill -TERM "$demo" 2>/dev/null || true; fi
  stop_recorded 20
  wait 2>/dev/null || true
  rm -f "$PIDFILE" "$GROUPS_FILE"
  echo "stopped"
}

start() {  # start NAME CMD...: own process group (recorded in .run/run.groups), log in .run/logs/NAME.log
  local name=$1; shift
  setsid "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo "$name $!" >>"$GROUPS_FILE"
  echo "  started $name (pid $!, log .run/logs/$name.log)"
}

serve() {
  if pid=$(running_pid); then
    echo "ragtasks is already running (pid $pid): 'make stop' first" >&2; exit 1
  fi
  if ! [[ $MONGO_PORT =~ ^[0-9]+$ ]] || ((MONGO_PORT < 1 || MONGO_PORT > 65535)); then
    echo "RAGTASKS_LOCAL_MONGO_PORT must be a port number (1-65535), not '$MONGO_PORT'" >&2; exit 1
  fi
  mkdir -p "$RUN/logs"
  bash scripts/services.sh ensure

  local ports=(8000 5555 8099 "${METRICS_PORTS[@]}")
  [ -n "${RAGTASKS_MONGODB_URL:-}" ] || ports+=("$MONGO_PORT")
  check_ports "${ports[@]}"

  echo "$$" >"$PIDFILE"
  : >"$GROUPS_FILE"
  trap cleanup EXIT
  trap 'exit 0' INT TERM  # a stop is a clean exit; the EXIT trap runs cleanup once

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
    start mongo "$ROOT/.venv-mongo/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$RUN/mongo-data"
    export RAGTASKS_MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT/?retryWrites=false"
    wait_port mongo "$!" "$MONGO_PORT" 30
  fi

  if "$BIN/python" -c "import ragtasks_alerter.demo_sink" 2>/dev/null; then
    start wecom-sink "$BIN/python" -m ragtasks_alerter.demo_sink --port 8099
  fi

  start gateway env "$(component_env gateway)" "$BIN/ragtasks" gateway --host 127.0.0.1 --port 8000
  for w in summarizer evaluator alerter; do
    start "worker-$w" env "$(component_env "$w")" "$BIN/ragtasks" worker "$w"
  done
  start beat "$BIN/ragtasks" beat --schedule-file "$RUN/beat-schedule"
  start flower "$BIN/ragtasks" flower --port 5555

  wait_http http://127.0.0.1:8000/readyz 60
  for port in "${METRICS_PORTS[@]:0:3}"; do wait_http "http://127.0.0.1:$port/healthz" 60; done
  wait_http http://127.0.0.1:5555/healthcheck 60 || true

  local shown_mongo
  # A URL of the user's own may carry a password: not on the terminal.
  shown_mongo=$(printf '%s' "$RAGTASKS_MONGODB_URL" | sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#')
  cat <<MSG

ragtasks is up:
  gateway     http://127.0.0.1:8000   (API key: $RAGTASKS_API_KEYS; docs at /docs)
  flower      http://127.0.0.1:5555
  mongo       $shown_mongo
  metrics     gateway :8000/metrics, workers :${METRICS_PORTS[0]} :${METRICS_PORTS[1]} :${METRICS_PORTS[2]}, beat :${METRICS_PORTS[3]}
  logs        .run/logs/

Pushing a small workload through it...
MSG
  # In the background, so a stop is handled at once rather than after the demo.
  "$BIN/python" scripts/demo.py --gateway http://127.0.0.1:8000 --api-key "${RAGTASKS_API_KEYS%%,*}" &
  demo=$!
  wait "$demo" || echo "(the demo workload failed; see above and .run/logs/)"
  demo=

  echo
  echo "Serving. Press Ctrl-C to stop, or run 'make stop' from another terminal."
  wait
}

# The multiprocess metrics directory of each component: set and wiped here, not from Python.
component_env() { local dir="$RUN/prom/$1"; rm -rf "$dir"; mkdir -p "$dir"; echo "PROMETHEUS_MULTIPROC_DIR=$dir"; }

case ${1:-run} in
  run) serve ;;
  stop) stop ;;
  *) echo "usage: scripts/run-local.sh [run|stop]" >&2; exit 2 ;;
esac
