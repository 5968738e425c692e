#!/usr/bin/env bash
# `npm test`: the whole test suite (unit, integration, e2e) against the real services.
# It installs what is missing, starts the parts of the local stack that are not running yet,
# runs jest, and stops again exactly what it started. Extra arguments go to jest, e.g.
#   npm test -- --selectProjects unit
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
ensure_node
ensure_deps
cd "$MUXLY_ROOT" || exit 1

components=(kafka registry s3 keycloak)
started=()
# shellcheck disable=SC2317 # run by the trap below, which shellcheck does not follow
cleanup() {
  if [ ${#started[@]} -gt 0 ] && [ "${MUXLY_KEEP_STACK:-0}" != 1 ]; then
    echo "muxly: stopping the components this run started: ${started[*]}"
    bash deploy/local/stack.sh stop "${started[@]}" || true
  fi
}
trap cleanup EXIT

for component in "${components[@]}"; do
  # A component that answers on its ports is used as it is (even if another checkout runs it).
  if ! bash deploy/local/stack.sh answers "$component"; then
    started+=("$component")
  fi
done
if [ ${#started[@]} -gt 0 ]; then
  echo "muxly: starting ${started[*]}"
  bash deploy/local/stack.sh start "${started[@]}"
fi

# Debian packages the tests use: Prometheus and its Pushgateway (the Prometheus destination),
# ShellCheck and systemd's verifier (the deployment scripts and units), podman, runc and
# debootstrap (the image, built and run for real).
ensure_packages prometheus:prometheus prometheus-pushgateway:prometheus-pushgateway chromium:chromium shellcheck:shellcheck \
  systemd:systemd-analyze podman:podman runc:runc debootstrap:debootstrap

results="$MUXLY_LOCAL_DIR/test-results.json"
mkdir -p "$MUXLY_LOCAL_DIR"
status=0
# --forceExit: a failed test can leave a handle open (a child process it did not get to stop);
# jest then reports the failure and still ends, instead of holding CI until its time limit.
# Two workers even on two cores: most suites wait on the services they start, not on the CPU
# (one worker took 47-50 minutes). Each worker draws ports from its own block (freePort), and every
# suite makes its own topics, database and realm, so suites do not meet. MUXLY_TEST_WORKERS=1 runs
# them one at a time.
bash scripts/jest.sh --maxWorkers="${MUXLY_TEST_WORKERS:-2}" --json --outputFile="$results" --forceExit "$@" || status=$?

# One plain closing line with the totals, whatever the reporter printed above it.
if [ -f "$results" ]; then
  # shellcheck disable=SC2016 # the single-quoted text is JavaScript, for node
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$results"
fi
exit $status
