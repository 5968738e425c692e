#!/usr/bin/env bash
# Runs jest on Node 24 with native ES modules (the sources are ESM: MikroORM 7 and jose 6 are ESM-only).
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
ensure_node
cd "$MUXLY_ROOT" || exit 1
export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning"
exec node node_modules/jest/bin/jest.js "$@"
