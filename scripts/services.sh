#!/usr/bin/env bash
# Starts every service the tests use: PostgreSQL, Redis, NATS JetStream. Idempotent.
# Cassandra (scripts/cassandra.sh) is started separately by the scylla test run.
set -euo pipefail
dir="$(dirname "$0")"
bash "$dir/postgres.sh" start
bash "$dir/redis.sh" start
bash "$dir/nats.sh" start
