#!/usr/bin/env bash
# `npm run bench`: the ingest, transformer and router benchmark (bench/run.ts). Not a test: it
# prints figures and compares them with the targets of docs/performance.md. Takes about 10
# minutes; `npm run bench -- router` runs only the router's part (about 3-4 minutes, no wrk),
# `-- transformer` the transformer alone (about 2 minutes), `-- clients` kafkajs against @platformatic/kafka (no wrk), `-- sustained` the sustained-load ladder (no wrk either).
# It needs wrk (Debian's package; installed here when missing and running as root) and the
# local stack's Kafka and schema registry (started when not running, stopped again after).
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
ensure_node
ensure_deps
cd "$MUXLY_ROOT" || exit 1

if [ -z "${1:-}" ] && ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing wrk (apt-get install -y wrk)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "error: wrk is not installed; install it with: sudo apt-get install -y wrk" >&2
    exit 1
  fi
fi

started=()
cleanup() {
  if [ ${#started[@]} -gt 0 ] && [ "${MUXLY_KEEP_STACK:-0}" != 1 ]; then
    echo "bench: stopping the components this run started: ${started[*]}"
    bash deploy/local/stack.sh stop "${started[@]}" || true
  fi
}
trap cleanup EXIT
for component in kafka registry; do
  if ! bash deploy/local/stack.sh answers "$component" >/dev/null 2>&1; then started+=("$component"); fi
done
if [ ${#started[@]} -gt 0 ]; then
  echo "bench: starting ${started[*]}"
  bash deploy/local/stack.sh start "${started[@]}"
fi

node bench/run.ts "$@"
