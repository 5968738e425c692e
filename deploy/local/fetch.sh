#!/usr/bin/env bash
# Resolve the local stack's artifacts from Maven Central and materialise them under .local/.
#
#   deploy/local/fetch.sh [kafka|registry|s3|keycloak|all ...]   (default: kafka registry)
#
# Each component has a tiny pom in deploy/local/maven/ naming exactly what it needs; Maven
# downloads into ~/.m2 (so CI can cache that folder) and `dependency:copy-dependencies`
# copies the files into .local/<component>/. A stamp (the pom's checksum) makes a second
# run a no-op, and a changed pom (new version) re-materialises. stack.sh start calls this.
#
# What gets downloaded (Maven Central):
#   kafka     org.apache.kafka:kafka_2.13:4.1.0 + kafka-tools + log4j2 backend, 93 jars, ~54 MB
#   registry  io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all                  ~158 MB
#   s3        com.adobe.testing:s3mock:4.0.0:jar:exec                             ~37 MB
#   keycloak  org.keycloak:keycloak-quarkus-dist:26.4.0:tar.gz                    ~160 MB
#
# Env: MUXLY_LOCAL_DIR (default <repo>/.local), MUXLY_MAVEN_ARGS (extra mvn arguments,
# e.g. "-o" for offline or "-s my-settings.xml" for a mirror).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  echo "usage: $0 [kafka|registry|s3|keycloak|all ...]   (no argument: kafka registry)" >&2
  exit 2
}

fetch_one() { # component
  local c="$1"
  # shellcheck disable=SC2034 # COMPONENT tags the messages of info/warn/die
  local COMPONENT="$c"
  local pom="$DEPLOY_DIR/maven/$c.pom.xml" dir="$LOCAL_DIR/$c"
  [[ -f "$pom" ]] || die "no pom for '$c' ($pom)"
  mkdir -p "$dir"

  # Own lock (not stack.sh's start lock, which the caller may hold): two parallel fetches
  # of the same component must not extract into the same folder.
  local fd
  exec {fd}>"$dir/fetch.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 900 "$fd" || die "could not get $dir/fetch.lock within 900s"
  fi

  local stamp
  stamp="$(sha256sum <"$pom" | cut -c1-16)"
  if [[ -f "$dir/.fetched" && "$(cat "$dir/.fetched")" == "$stamp" ]]; then
    info "artifacts already materialised in $dir"
    exec {fd}>&-
    return 0
  fi
  # Never swap files under a running process (a version bump while it runs).
  if read_live_pid "$dir/pid" "$dir/" >/dev/null; then
    die "$c is running with other artifacts than $pom asks for; stop it first (stack.sh stop $c)"
  fi

  command -v mvn >/dev/null 2>&1 ||
    die "Maven (mvn) is not installed, and it is needed once to download $c (apt-get install maven)"

  local tmp="$dir/download.tmp" log="$dir/fetch.log" started=$SECONDS
  local extra=()
  read -ra extra <<<"${MUXLY_MAVEN_ARGS:-}"
  rm -rf "$tmp"
  info "resolving $(grep -m1 -A2 '<dependency>' "$pom" | sed -n 's:.*<artifactId>\(.*\)</artifactId>.*:\1:p') with Maven (from Maven Central, cached in the local Maven repository) ..."
  # Fully qualified goal: no plugin-prefix lookup, and the plugin version is pinned.
  if ! mvn -B -Dstyle.color=never "${extra[@]}" -f "$pom" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
    # the [ERROR] lines say what failed; Maven's [WARNING]s before them are mostly noise
    grep -v '^\[WARNING\]' "$log" >"$log.errors" || true
    show_log_tail "$log.errors" 30 "$log (without [WARNING] lines)"
    rm -f "$log.errors"
    die "downloading $c failed (Maven error above; full log: $log). Is Maven Central reachable?"
  fi

  # Materialise into the final place. Swap only when complete, so an interrupted fetch
  # never leaves a half-extracted tree that the next run would take for finished.
  case "$c" in
    kafka)
      rm -rf "${dir:?}/lib"
      mv "$tmp" "$dir/lib"
      ;;
    s3)
      mv -f "$tmp"/s3mock-*-exec.jar "$dir/s3mock.jar"
      rm -rf "$tmp"
      ;;
    registry | keycloak)
      local archive strip=0
      archive="$(ls "$tmp"/*.tar.gz)"
      # Keycloak's tarball has a keycloak-<version>/ top folder, Apicurio's has none.
      [[ "$c" == keycloak ]] && strip=1
      rm -rf "$dir/dist.tmp"
      mkdir -p "$dir/dist.tmp"
      # plain tar rather than dependency:unpack: keeps the scripts' exec bits
      tar -xzf "$archive" -C "$dir/dist.tmp" --strip-components="$strip" --no-same-owner
      # Keycloak keeps its dev database in dist/data: carry it over to a new version.
      if [[ -d "$dir/dist/data" && ! -e "$dir/dist.tmp/data" ]]; then
        mv "$dir/dist/data" "$dir/dist.tmp/data"
      fi
      rm -rf "$dir/dist"
      mv "$dir/dist.tmp" "$dir/dist"
      rm -rf "$tmp"
      ;;
  esac
  echo "$stamp" >"$dir/.fetched"
  info "materialised in $dir ($((SECONDS - started))s)"
  exec {fd}>&-
}

components=()
for arg in "$@"; do
  case "$arg" in
    all) components+=("${ALL_COMPONENTS[@]}") ;;
    kafka | registry | s3 | keycloak) components+=("$arg") ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done
((${#components[@]})) || components=("${CORE_COMPONENTS[@]}")

for c in "${components[@]}"; do
  fetch_one "$c"
done
