#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 cluster and makes the chat role and database. Idempotent.
#   scripts/postgres.sh [start|stop|status]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PG_VERSION=${PG_VERSION:-15}
PG_USER=${PG_USER:-chat}
PG_PASSWORD=${PG_PASSWORD:-chat}
PG_DB=${PG_DB:-chat}

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }

start() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    need_apt_package pg_ctlcluster "postgresql-$PG_VERSION"
  fi
  if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
    log "starting PostgreSQL $PG_VERSION"
    pg_ctlcluster "$PG_VERSION" main start
  fi
  wait_for 30 "PostgreSQL on 127.0.0.1:5432" port_open 127.0.0.1 5432
  if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'\"")" != "1" ]; then
    log "creating role $PG_USER"
    psql_admin "-c \"CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD' CREATEDB\""
  fi
  if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname='$PG_DB'\"")" != "1" ]; then
    log "creating database $PG_DB"
    psql_admin "-c \"CREATE DATABASE $PG_DB OWNER $PG_USER\""
  fi
  log "PostgreSQL ready: postgres://$PG_USER:***@127.0.0.1:5432/$PG_DB"
}

case "${1:-start}" in
  start) start ;;
  stop) pg_ctlcluster "$PG_VERSION" main stop || true ;;
  status) pg_lsclusters ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
