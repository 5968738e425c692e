# Sourced by the deployment scripts beside it: argument helpers, dry-run, early checks.
# shellcheck shell=bash
set -euo pipefail

MUXLY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export MUXLY_REPO
DRY_RUN=0

die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}
note() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# Runs a command, or with --dry-run prints it (shell-quoted) instead.
run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Fails early when a tool is missing. With --dry-run only a note: what would run is still shown.
need_tool() { # tool hint
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ "$DRY_RUN" == 1 ]]; then
    note "note: '$1' is not installed ($2); a real run would stop here"
  else
    die "'$1' is required: $2"
  fi
}

# Fails early when a setting is missing (also with --dry-run: a dry run checks the inputs too).
need_value() { # name value hint
  [[ -n "$2" ]] || die "$1 is not set: $3"
}

# The value after an option, or an error naming the option.
option_value() { # option remaining-count value
  (($2 >= 2)) || die "$1 needs a value (see --help)"
  printf '%s' "$3"
}
