#!/usr/bin/env bash
# Installs (apt) and starts Redis on 127.0.0.1:${REDIS_PORT:-6379}. Idempotent.
#   scripts/redis.sh [start|stop|status]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PORT=${REDIS_PORT:-6379}
DIR="$CACHE/redis"

start() {
  need_apt_package redis-server redis-server
  if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then return 0; fi
  mkdir -p "$DIR"
  log "starting redis-server on 127.0.0.1:$PORT"
  redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --save "" --appendonly no \
    --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  wait_for 20 "Redis on 127.0.0.1:$PORT" sh -c "redis-cli -h 127.0.0.1 -p $PORT ping 2>/dev/null | grep -q PONG"
}

stop() {
  if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) redis-cli -h 127.0.0.1 -p "$PORT" ping ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
