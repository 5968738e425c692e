# shellcheck shell=bash
# Sourced by the project's scripts: puts Node 24 on PATH and installs the npm dependencies.
#
# Why: the machines this runs on may have an older system Node (20 is end-of-life and too old for
# MikroORM 7, jose 6 and the Google/HubSpot clients). The npm registry's `node` package ships the
# official binaries, so the project provides its own Node 24 under .local/ when the machine's is
# older, without sudo and without any download outside the npm registry.
set -euo pipefail

MUXLY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MUXLY_LOCAL_DIR="${MUXLY_LOCAL_DIR:-$MUXLY_ROOT/.local}"
MUXLY_NODE_VERSION="24.21.0"
export MUXLY_ROOT MUXLY_LOCAL_DIR

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if command -v node >/dev/null 2>&1 && [ "$(node_major)" = "24" ]; then
    return 0
  fi
  local prefix="$MUXLY_LOCAL_DIR/node"
  local bin="$prefix/node_modules/node/bin"
  if [ ! -x "$bin/node" ] || [ "$(node_major "$bin/node")" != "24" ]; then
    command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to install Node 24 (install any Node.js with npm first)" >&2; return 1; }
    echo "muxly: installing Node $MUXLY_NODE_VERSION from the npm registry into $prefix" >&2
    mkdir -p "$prefix"
    # The `node` package's preinstall step fetches the platform binary package from the registry.
    (cd "$prefix" && npm install --no-save --no-package-lock --loglevel=error --prefix "$prefix" "node@$MUXLY_NODE_VERSION" >/dev/null) \
      || { echo "error: could not install node@$MUXLY_NODE_VERSION from the npm registry" >&2; return 1; }
  fi
  export PATH="$bin:$PATH"
  [ "$(node_major)" = "24" ] || { echo "error: Node 24 is not on PATH after install" >&2; return 1; }
}

# Installs npm dependencies when node_modules is missing or older than the lock file.
ensure_deps() {
  local stamp="$MUXLY_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$MUXLY_ROOT/package-lock.json" -nt "$stamp" ]; then
    echo "muxly: installing npm dependencies (npm ci)" >&2
    (cd "$MUXLY_ROOT" && npm ci --loglevel=error --no-fund --no-audit)
  fi
}

# Installs the Debian packages whose commands are missing (arguments: package:command ...): as
# root with apt-get, otherwise it stops with the exact command to run. NOTE: Debian starts a
# package's daemon on install (Prometheus would take port 9090, S3's, and the Pushgateway 9091); a
# policy-rc.d that forbids starting services keeps them stopped while installing; the tests start
# their own.
ensure_packages() {
  local missing=() entry
  for entry in "$@"; do
    command -v "${entry#*:}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the tests need these Debian packages: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "muxly: installing ${missing[*]} (apt-get)" >&2
  local policy_added=0 status=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    status=1
  fi
  [ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$status" = 0 ] || echo "error: apt-get could not install ${missing[*]}" >&2
  return "$status"
}
