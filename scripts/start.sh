#!/usr/bin/env bash
# `npm start`: installs what is missing (Node 24, npm dependencies, the Maven-resolved jars),
# starts the native local stack (Kafka, schema registry), then all Muxly services with
# config/local.yaml, prints where each listens, and stops everything cleanly on Ctrl-C.
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
ensure_node
ensure_deps
cd "$MUXLY_ROOT" || exit 1

export MUXLY_CONFIG="${MUXLY_CONFIG:-$MUXLY_ROOT/config/local.yaml}"
logs="$MUXLY_LOCAL_DIR/logs"
mkdir -p "$logs" "$MUXLY_LOCAL_DIR/out"

started_stack=0
if ! bash deploy/local/stack.sh status kafka registry | grep -q 'registry.*running'; then
  started_stack=1
fi
bash deploy/local/stack.sh start kafka registry

services=(ingest transformer router)
[ -f control-plane/src/main.ts ] && services+=(control-plane)
declare -A pids=()

# shellcheck disable=SC2317 # run by the trap below, which shellcheck does not follow
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "muxly: stopping services"
  for name in "${!pids[@]}"; do kill -TERM "${pids[$name]}" 2>/dev/null || true; done
  for name in "${!pids[@]}"; do wait "${pids[$name]}" 2>/dev/null || true; done
  if [ "$started_stack" = 1 ] && [ "${MUXLY_KEEP_STACK:-0}" != 1 ]; then
    bash deploy/local/stack.sh stop kafka registry
  fi
  echo "muxly: stopped"
}
trap stop_all INT TERM EXIT

for name in "${services[@]}"; do
  # V8 heap bounds keep the RSS of the router, ingest and the transformer in their budgets
  # (docs/performance.md).
  node_args=()
  case "$name" in router | ingest | transformer) node_args=(--max-old-space-size=512 --max-semi-space-size=16) ;; esac
  # Each service logs JSON lines; they are kept under .local/logs and echoed with a prefix.
  node "${node_args[@]}" "$name/src/main.ts" > >(tee -a "$logs/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
  pids[$name]=$!
done

wait_ready() { # name url
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
    if ! kill -0 "${pids[$1]}" 2>/dev/null; then echo "muxly: $1 exited during start; see $logs/$1.log" >&2; return 1; fi
    sleep 0.5
  done
  echo "muxly: $1 did not become ready at $2" >&2; return 1
}
wait_ready ingest http://127.0.0.1:8080/readyz
wait_ready transformer http://127.0.0.1:9101/readyz
wait_ready router http://127.0.0.1:9102/readyz
[ -n "${pids[control-plane]:-}" ] && wait_ready control-plane http://127.0.0.1:8081/healthz

cat <<INFO

Muxly is running (Ctrl-C stops everything):
  ingest API         http://127.0.0.1:8080/v1/metrics   (docs: /docs)
  transformer        http://127.0.0.1:9101/metrics
  router             http://127.0.0.1:9102/metrics
$( [ -n "${pids[control-plane]:-}" ] && echo "  control plane      http://127.0.0.1:8081/api/v1   (docs: /docs)" )
$( [ -n "${pids[control-plane]:-}" ] && echo "  web console        http://127.0.0.1:8081/console  (sign in: admin@muxly.local / local-dev-only-admin-password)" )
  Kafka              127.0.0.1:9092          schema registry  http://127.0.0.1:8085/apis/ccompat/v7
  events file        .local/out/events.jsonl
  logs               .local/logs/

Try it:
  curl -X POST http://127.0.0.1:8080/v1/metrics \\
    -H 'Authorization: Bearer mxk_local_dev_only_change_me' -H 'Content-Type: application/json' \\
    -d '{"name":"signup","value":1,"dimensions":{"plan":"pro"}}'
  tail -f .local/out/events.jsonl
INFO

# Stay up until Ctrl-C, or until a service dies (then stop the rest).
wait -n "${pids[@]}"
echo "muxly: a service exited; stopping the others" >&2
exit 1
