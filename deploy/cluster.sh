#!/usr/bin/env bash
# Three dashboard nodes, one Redis and HAProxy on this machine (a demo of the deployment).
#   BURKI_API_KEY=... BURKI_BASE_URL=https://... deploy/cluster.sh
# Then open http://127.0.0.1:8080/. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
state=$(mktemp -d -t burki-cluster-XXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$state"' EXIT

# Redis holds the cluster's sealed inputs, leases and limits: never without a password (kept
# in a file only we can read, not on a command line `ps` shows). Across machines, use TLS
# (rediss://) as well; see docs/cluster.md.
password=${REDIS_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')}
umask 077
printf 'port 6390\nbind 127.0.0.1\nprotected-mode yes\nrequirepass %s\ndir %s\nappendonly yes\nsave ""\n' \
  "$password" "$state" > "$state/redis.conf"
redis-server "$state/redis.conf" &
export REDIS_URL="redis://:$password@127.0.0.1:6390/0"
# Every node signs sessions with the same secret and reads users, tokens, embed links and the
# audit log from one database: DATABASE_URL (PostgreSQL) if set, what nodes on several machines
# need; otherwise, on this one machine, one SQLite file they all open (docs/storage.md).
export DASHBOARD_SESSION_SECRET=${DASHBOARD_SESSION_SECRET:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}
export DASHBOARD_DATABASE_FILE=${DASHBOARD_DATABASE_FILE:-$state/burki-live.sqlite3}
.venv/bin/burki-dashboard db upgrade  # once, before the nodes start together
export DASHBOARD_TRUSTED_PROXIES=127.0.0.1
if [ -z "${BURKI_API_KEY:-}" ]; then
  # No Burki: one simulator for all three nodes (each node's own demo simulator would differ).
  .venv/bin/burki-dashboard simulator --port 8765 --key cluster-demo-key &
  export BURKI_API_KEY=cluster-demo-key BURKI_BASE_URL=http://127.0.0.1:8765
fi
sleep 0.5
for n in 1 2 3; do
  DASHBOARD_NODE_ID=node-$n DASHBOARD_PORT=800$n .venv/bin/burki-dashboard run &
done
haproxy -db -f deploy/haproxy.cfg &
wait
