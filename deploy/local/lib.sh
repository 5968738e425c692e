# shellcheck shell=bash
# Shared helpers for deploy/local/{stack,fetch}.sh. Sourced, never run.
#
# Everything the local stack creates lives under ONE ignored folder, $LOCAL_DIR
# (default <repo>/.local), one sub-folder per component, so that "reset a component"
# is always `stack.sh stop X && rm -rf .local/X`. Other tools keep things in .local too
# (e.g. .local/node), so nothing here ever deletes .local itself.

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY_DIR/../.." && pwd)"
LOCAL_DIR="${MUXLY_LOCAL_DIR:-$REPO_ROOT/.local}"
mkdir -p "$LOCAL_DIR"
# Absolute: the path ends up in pid checks and in the processes' own command lines.
LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd)"

# Components, in start order (the registry keeps its data in Kafka, so Kafka comes first).
# shellcheck disable=SC2034 # used by the scripts that source this file
ALL_COMPONENTS=(kafka registry s3 keycloak)
# shellcheck disable=SC2034
CORE_COMPONENTS=(kafka registry)

# ---------------------------------------------------------------------------------------
# messages

_tag() { printf '[muxly-local%s]' "${1:+ $1}"; }
info() { echo "$(_tag "${COMPONENT:-}") $*"; }
warn() { echo "$(_tag "${COMPONENT:-}") WARNING: $*" >&2; }
die() {
  echo "$(_tag "${COMPONENT:-}") ERROR: $*" >&2
  exit 1
}

# Print the last N lines of a log file to stderr, framed so it stands out in CI output.
show_log_tail() { # file [lines] [label]
  local file="$1" lines="${2:-30}" label="${3:-$1}"
  if [[ -s "$file" ]]; then
    echo "----- last $lines lines of $label -----" >&2
    # strip ANSI colour codes (Maven, Quarkus) so CI logs stay readable
    tail -n "$lines" "$file" | sed -e 's/\x1b\[[0-9;]*m//g' >&2
    echo "----- end of $label -----" >&2
  fi
}

# ---------------------------------------------------------------------------------------
# Java

# Major version of a java binary: 8 for "1.8.0_x", 17 for "17.0.15", 25 for "25".
java_major() { # java-binary
  local line ver
  line="$("$1" -version 2>&1 | grep -m1 -E 'version "' || true)"
  ver="${line#*version \"}"
  ver="${ver%%\"*}"
  [[ -n "$ver" && "$ver" != "$line" ]] || return 1
  if [[ "$ver" == 1.* ]]; then ver="${ver#1.}"; fi
  ver="${ver%%[.+-]*}"
  [[ "$ver" =~ ^[0-9]+$ ]] || return 1
  echo "$ver"
}

# Print the path of a java binary whose major version is >= MIN.
# Preference: $JAVA_HOME, then `java` on PATH (what the user chose), then the newest JDK
# found under /usr/lib/jvm (e.g. the registry needs 21+ while Debian's default is 17).
# Fails with the list of what was found, so "Java missing / too old" is explicit.
find_java() { # min-major
  local min="$1" cand major seen=() found=""
  local cands=()
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  if command -v java >/dev/null 2>&1; then cands+=("$(command -v java)"); fi
  local scanned=()
  for cand in /usr/lib/jvm/*/bin/java; do
    [[ -x "$cand" ]] || continue
    major="$(java_major "$cand" 2>/dev/null)" || continue
    scanned+=("$major $cand")
  done
  # newest first
  if ((${#scanned[@]})); then
    while read -r _ cand; do cands+=("$cand"); done < <(printf '%s\n' "${scanned[@]}" | sort -rn)
  fi
  local real reals=" "
  for cand in "${cands[@]}"; do
    [[ -x "$cand" ]] || continue
    # /usr/bin/java and /usr/lib/jvm/java-1.17.0-openjdk-amd64 are often the same JDK
    real="$(readlink -f "$cand")"
    [[ "$reals" == *" $real "* ]] && continue
    reals+="$real "
    major="$(java_major "$cand" 2>/dev/null)" || continue
    seen+=("$cand (Java $major)")
    if ((major >= min)); then
      found="$cand"
      break
    fi
  done
  if [[ -z "$found" ]]; then
    if ((${#seen[@]})); then
      echo "Java $min or newer is required, but only these were found: ${seen[*]}." \
        "Install a JDK $min+ under /usr/lib/jvm or point JAVA_HOME at one." >&2
    else
      echo "Java $min or newer is required, but no java was found (JAVA_HOME unset, no java" \
        "on PATH, nothing under /usr/lib/jvm). Install a JDK $min+ or set JAVA_HOME." >&2
    fi
    return 1
  fi
  echo "$found"
}

# JAVA_HOME for a java binary found by find_java (kc.sh wants JAVA_HOME, not a binary).
java_home_of() { # java-binary
  local real
  real="$(readlink -f "$1")"
  dirname "$(dirname "$real")"
}

# ---------------------------------------------------------------------------------------
# ports and HTTP

# True if something listens on TCP PORT on any local address.
port_in_use() { # port
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Best-effort "pid 123 (python3): <command line>" of whoever listens on PORT.
port_owner() { # port
  local port="$1" pid=""
  if command -v ss >/dev/null 2>&1; then
    pid="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
  fi
  if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]]; then
    local cmd
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-200)"
    echo "pid $pid (${cmd% })"
  else
    echo "an unknown process"
  fi
}

# True if a TCP connection to 127.0.0.1:PORT succeeds within 2 s.
port_open() { # port
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# HTTP status code of GET URL ("000" if nothing answered).
http_code() { # url [curl args...]
  local url="$1"
  shift
  curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 5 "$@" "$url" 2>/dev/null || true
}

# Kafka protocol round trip: send an ApiVersions v0 request and check the answer carries
# our correlation id and error code 0. Proves the broker really serves requests, not just
# that a socket is open, without starting a JVM (the Java tools take seconds to boot).
kafka_api_versions_ok() { # port
  local port="$1" reply
  # size=15 | api_key=18 (ApiVersions) | api_version=0 | correlation_id=0x4d58 | client_id="muxly"
  reply="$(timeout 5 bash -c "
      exec 3<>/dev/tcp/127.0.0.1/$port || exit 1
      printf '\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x4d\x58\x00\x05muxly' >&3
      head -c 10 <&3" 2>/dev/null | od -An -tx1 | tr -d ' \n')" || return 1
  # bytes 0-3: response size, 4-7: correlation id, 8-9: error code
  [[ "${reply:8:8}" == "00004d58" && "${reply:16:4}" == "0000" ]]
}

# ---------------------------------------------------------------------------------------
# processes

pid_alive() { # pid
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null
}

# The pid recorded in a pid file, if that process is alive AND is really ours (its command
# line mentions our component folder), so a stale pid file reused by an unrelated process
# is never signalled.
read_live_pid() { # pidfile marker
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# Stop the process (group) of a pid: SIGTERM, wait up to GRACE seconds, then SIGKILL.
# Processes are started with setsid, so the pid is also a process-group id and the whole
# group (e.g. kc.sh and the java it runs) gets the signal.
stop_pid() { # pid [grace-seconds]
  local pid="$1" grace="${2:-30}" target="$1" i
  if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then target="-$pid"; fi
  kill -TERM -- "$target" 2>/dev/null || return 0
  for ((i = 0; i < grace * 5; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  warn "pid $pid did not exit within ${grace}s after SIGTERM; sending SIGKILL"
  kill -KILL -- "$target" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  return 1
}

# Start a command detached from this shell: own session (setsid) so Ctrl-C or a CI step
# ending does not kill it, stdin closed, stdout+stderr appended to LOG. The pid goes to
# PIDFILE (not to stdout: `pid=$(spawn ...)` would wait for the daemon's inherited stdout).
# A script has no job control, so the child is not a group leader and setsid execs in
# place: $! is the daemon's own pid and also its process-group id.
# WORKDIR is the component's folder, never the caller's (Quarkus reads ./.env and ./config).
spawn() { # pidfile log workdir cmd [args...]
  local pidfile="$1" log="$2" workdir="$3"
  shift 3
  # Close the component lock fd in the child, or the daemon would hold the lock forever.
  if [[ -n "${LOCK_FD:-}" ]]; then
    (cd "$workdir" && exec setsid "$@" </dev/null >>"$log" 2>&1 {LOCK_FD}>&-) &
  else
    (cd "$workdir" && exec setsid "$@" </dev/null >>"$log" 2>&1) &
  fi
  echo "$!" >"$pidfile"
}

# Serialise start/stop of one component across concurrent invocations (parallel CI jobs).
LOCK_FD=""
take_lock() { # lockfile
  exec {LOCK_FD}>"$1"
  if command -v flock >/dev/null 2>&1; then
    flock -w 600 "$LOCK_FD" || die "could not get the lock $1 within 600s (another stack.sh running?)"
  fi
}
release_lock() {
  if [[ -n "${LOCK_FD:-}" ]]; then
    exec {LOCK_FD}>&-
    LOCK_FD=""
  fi
}

# Wait until CHECK (a command) succeeds, the process PID dies (→ fail fast, show logs) or
# DEADLINE seconds pass (→ fail). Returns 0 ready, 1 died, 2 timed out.
wait_until() { # pid deadline-seconds check-command [args...]
  local pid="$1" deadline="$2"
  shift 2
  local end=$((SECONDS + deadline))
  while ((SECONDS < end)); do
    if "$@"; then return 0; fi
    pid_alive "$pid" || return 1
    sleep 0.5
  done
  "$@" && return 0
  return 2
}

wait_for_port() { # pid deadline port
  wait_until "$1" "$2" port_open "$3"
}

_http_is() { # expected-code url
  [[ "$(http_code "$2")" == "$1" ]]
}
wait_for_http() { # pid deadline url [expected-code]
  wait_until "$1" "$2" _http_is "${4:-200}" "$3"
}

# Keep the previous run's log as LOG.1 so a failed start shows only its own lines.
rotate_log() { # log
  [[ -e "$1" ]] && mv -f "$1" "$1.1"
  : >"$1"
}
