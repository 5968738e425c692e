#!/usr/bin/env bash
# Native (no Docker) local stack for Muxly: Kafka, schema registry, S3, Keycloak.
#
#   deploy/local/stack.sh start|stop|restart|status [kafka|registry|s3|keycloak|all ...]
#   deploy/local/stack.sh start|stop|status kafka-cluster|kafka-node1|kafka-node2|kafka-node3
#
# No component = the core the pipeline needs (kafka registry); `all` = all four.
# kafka-cluster = three KRaft brokers (kafka-node1..3, replication factor 3, min ISR 2) on
# their own ports and folders, beside (not instead of) the single `kafka`.
# status with no component lists all four and always exits 0; with components it exits 3
# unless every one of them is running and answering.
#
# Every component keeps data, config, logs and pid under $MUXLY_LOCAL_DIR/<component>
# (default <repo>/.local). Reset one with: stack.sh stop X && rm -rf .local/X
# See README.md beside this file for ports and details.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat >&2 <<EOF
usage: $0 start|stop|restart|status|answers [kafka|registry|s3|keycloak|all ...]
  no component: kafka registry (status: all four)
  env: MUXLY_LOCAL_DIR (default $REPO_ROOT/.local), MUXLY_START_TIMEOUT (seconds),
       MUXLY_MAVEN_ARGS (extra mvn arguments for downloads), JAVA_HOME,
       MUXLY_KAFKA_PORT / MUXLY_KAFKA_CONTROLLER_PORT (default 9092 / 9093),
       MUXLY_KAFKA_SASL_SSL_PORT (adds a SASL/SCRAM-over-TLS client listener; see README.md),
       MUXLY_KAFKA_OAUTH_JWKS_URL [_ISSUER, _AUDIENCE] (that listener also takes OAUTHBEARER tokens),
       MUXLY_REGISTRY_PORT / MUXLY_REGISTRY_MGMT_PORT (default 8085 / 9001),
       MUXLY_KAFKA_CLUSTER_PORTS / MUXLY_KAFKA_CLUSTER_CONTROLLER_PORTS
         (three comma-separated ports each, default 19092,19093,19094 / 19192,19193,19194)
  components also: kafka-cluster (= kafka-node1 kafka-node2 kafka-node3)
EOF
  exit 2
}

command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install curl)"

# Fixed ports (the rest of the repo's defaults and tests assume them). Kafka's can be moved for a
# second, private broker (with its own MUXLY_LOCAL_DIR), as the broker-outage test does.
KAFKA_PORT="${MUXLY_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${MUXLY_KAFKA_CONTROLLER_PORT:-9093}"
# Optional second client listener with SASL/SCRAM over TLS, as managed Kafka services offer (unset:
# none). Its certificate is self-signed (tls/ca.pem in the broker's folder); the SCRAM user is
# created when the storage is formatted, so set these before a broker's first start.
KAFKA_SASL_SSL_PORT="${MUXLY_KAFKA_SASL_SSL_PORT:-}"
KAFKA_SCRAM_USER="${MUXLY_KAFKA_SCRAM_USER:-muxly}"
KAFKA_SCRAM_PASSWORD="${MUXLY_KAFKA_SCRAM_PASSWORD:-local-dev-only-scram-password}"
# With a JWKS URL (an OpenID provider's keys, e.g. a Keycloak realm's .../protocol/openid-connect/certs)
# the SASL_SSL listener also takes SASL/OAUTHBEARER: Kafka's own validator checks each client's JWT
# against those keys, and the issuer and audience when set.
KAFKA_OAUTH_JWKS_URL="${MUXLY_KAFKA_OAUTH_JWKS_URL:-}"
KAFKA_OAUTH_ISSUER="${MUXLY_KAFKA_OAUTH_ISSUER:-}"
KAFKA_OAUTH_AUDIENCE="${MUXLY_KAFKA_OAUTH_AUDIENCE:-}"
REGISTRY_PORT="${MUXLY_REGISTRY_PORT:-8085}"
REGISTRY_MGMT_PORT="${MUXLY_REGISTRY_MGMT_PORT:-9001}"
# The three-broker cluster (for replication and rolling-restart tests): its own ports, and its
# own folders $LOCAL_DIR/kafka-node<N>; it uses the jars materialised for `kafka`.
IFS=, read -r -a CLUSTER_PORTS <<<"${MUXLY_KAFKA_CLUSTER_PORTS:-19092,19093,19094}"
IFS=, read -r -a CLUSTER_CONTROLLER_PORTS <<<"${MUXLY_KAFKA_CLUSTER_CONTROLLER_PORTS:-19192,19193,19194}"
((${#CLUSTER_PORTS[@]} == 3 && ${#CLUSTER_CONTROLLER_PORTS[@]} == 3)) ||
  die "MUXLY_KAFKA_CLUSTER_PORTS and MUXLY_KAFKA_CLUSTER_CONTROLLER_PORTS need three ports each"
CLUSTER_NODES=(kafka-node1 kafka-node2 kafka-node3)
S3_PORT=9090
S3_HTTPS_PORT=9191
KEYCLOAK_PORT=8180
KEYCLOAK_MGMT_PORT=9180

# Oldest Java each one runs on (Apicurio 3 is built for 21: 17 fails with
# UnsupportedClassVersionError).
java_min_of() {
  case "$1" in
    registry) echo 21 ;;
    *) echo 17 ;;
  esac
}

# node number of a cluster component (kafka-node2 -> 2)
node_of() { echo "${1#kafka-node}"; }

ports_of() {
  case "$1" in
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT${KAFKA_SASL_SSL_PORT:+ $KAFKA_SASL_SSL_PORT}" ;;
    kafka-node?)
      local n
      n="$(node_of "$1")"
      echo "${CLUSTER_PORTS[n - 1]} ${CLUSTER_CONTROLLER_PORTS[n - 1]}"
      ;;
    registry) echo "$REGISTRY_PORT $REGISTRY_MGMT_PORT" ;;
    s3) echo "$S3_PORT $S3_HTTPS_PORT" ;;
    keycloak) echo "$KEYCLOAK_PORT $KEYCLOAK_MGMT_PORT" ;;
  esac
}

# Deadlines for "answers after start", generous for a slow CI box (measured here: Kafka
# ~4 s, registry ~25 s, S3 ~7 s, Keycloak ~40 s on its first start).
timeout_of() {
  if [[ -n "${MUXLY_START_TIMEOUT:-}" ]]; then
    echo "$MUXLY_START_TIMEOUT"
    return
  fi
  case "$1" in
    kafka | kafka-node?) echo 90 ;;
    registry) echo 180 ;;
    s3) echo 90 ;;
    keycloak) echo 300 ;;
  esac
}

# ======================================================================================
# Kafka: single KRaft node (broker + controller in one JVM), Java 17+.


# The Kafka functions serve the single node (`kafka`) and each cluster node (`kafka-node<N>`):
# kafka_node sets which one (its ports, node id, voters, replication) before each use.
KAFKA_NODE_ID=1
KAFKA_VOTERS="1@127.0.0.1:$KAFKA_CONTROLLER_PORT"
KAFKA_REPLICAS=1
KAFKA_MIN_ISR=1
KAFKA_HEAP=1g
KAFKA_COMPONENT=kafka
kafka_node() { # component
  [[ "$1" == kafka-node? ]] || return 0
  local n i
  n="$(node_of "$1")"
  KAFKA_COMPONENT="$1"
  KAFKA_NODE_ID="$n"
  KAFKA_PORT="${CLUSTER_PORTS[n - 1]}"
  KAFKA_CONTROLLER_PORT="${CLUSTER_CONTROLLER_PORTS[n - 1]}"
  KAFKA_VOTERS=""
  for i in 1 2 3; do KAFKA_VOTERS+="${KAFKA_VOTERS:+,}$i@127.0.0.1:${CLUSTER_CONTROLLER_PORTS[i - 1]}"; done
  KAFKA_REPLICAS=3
  KAFKA_MIN_ISR=2
  # the SASL/TLS listener is the single node's only
  KAFKA_SASL_SSL_PORT=""
  KAFKA_OAUTH_JWKS_URL=""
  # three JVMs on a developer machine: a smaller heap each
  KAFKA_HEAP=512m
}

kafka_ready() {
  kafka_api_versions_ok "$KAFKA_PORT"
}

# During a start also wait for the broker's own "started" line: it comes after the broker
# is unfenced and its listeners accept requests.
kafka_started() {
  grep -q "Kafka Server started" "$LOCAL_DIR/$KAFKA_COMPONENT/logs/server.log" 2>/dev/null && kafka_ready
}

# The jars are those of `kafka` (fetch.sh kafka materialises them), for the cluster nodes too.
KAFKA_LIB="$LOCAL_DIR/kafka/lib"

kafka_prepare() { # dir java
  local dir="$1" java="$2"
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
  local advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  local sasl_ssl_properties=""
  local format_args=()
  if [[ -n "$KAFKA_SASL_SSL_PORT" ]]; then
    kafka_tls_material "$dir"
    local store_password
    store_password="$(cat "$dir/tls/store-password")"
    listeners+=",SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
    advertised+=",SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
    sasl_ssl_properties="# SASL/SCRAM over TLS for clients (MUXLY_KAFKA_SASL_SSL_PORT)
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/broker.p12
ssl.keystore.password=$store_password
ssl.key.password=$store_password"
    format_args=(--add-scram "SCRAM-SHA-256=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]")
    if [[ -n "$KAFKA_OAUTH_JWKS_URL" ]]; then
      sasl_ssl_properties="${sasl_ssl_properties/SCRAM-SHA-256,SCRAM-SHA-512/SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER}
# SASL/OAUTHBEARER on the same listener: JWTs checked against the provider's keys (MUXLY_KAFKA_OAUTH_*)
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url=$KAFKA_OAUTH_JWKS_URL
# NOTE: Kafka 4.1's default (DefaultJwtValidator, made without the keys) checks a token's form and
# expiry only, not its signature, issuer or audience: the broker's validator must be named.
sasl.oauthbearer.jwt.validator.class=org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator"
      [[ -z "$KAFKA_OAUTH_ISSUER" ]] ||
        sasl_ssl_properties+=$'\n'"sasl.oauthbearer.expected.issuer=$KAFKA_OAUTH_ISSUER"
      [[ -z "$KAFKA_OAUTH_AUDIENCE" ]] ||
        sasl_ssl_properties+=$'\n'"sasl.oauthbearer.expected.audience=$KAFKA_OAUTH_AUDIENCE"
    fi
  elif [[ -n "$KAFKA_OAUTH_JWKS_URL" ]]; then
    die "MUXLY_KAFKA_OAUTH_JWKS_URL needs MUXLY_KAFKA_SASL_SSL_PORT (OAUTHBEARER is offered on that listener)"
  fi
  # Rewritten on every start (absolute paths, and script changes apply); the cluster's
  # identity lives in data/meta.properties, written once by the format step below.
  cat >"$dir/server.properties" <<EOF
# Generated by deploy/local/stack.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
# static quorum (one voter, or the cluster's three), matching a plain 'format' (no --standalone)
controller.quorum.voters=$KAFKA_VOTERS
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
# one broker: every internal topic lives with a single replica; the cluster: three, and a
# write is acknowledged once two have it (one broker may be down, as in a rolling restart)
num.partitions=3
default.replication.factor=$KAFKA_REPLICAS
offsets.topic.replication.factor=$KAFKA_REPLICAS
transaction.state.log.replication.factor=$KAFKA_REPLICAS
transaction.state.log.min.isr=$KAFKA_MIN_ISR
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICAS
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR
min.insync.replicas=$KAFKA_MIN_ISR
# tests start consumers and expect them to get partitions at once
group.initial.rebalance.delay.ms=0
# topics are created on purpose (the pipeline and the registry create theirs)
auto.create.topics.enable=false
$sasl_ssl_properties
EOF
  cat >"$dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/local/stack.sh: the broker logs to logs/server.log. -->
<Configuration status="warn">
  <Appenders>
    <RollingFile name="server" fileName="$dir/logs/server.log"
                 filePattern="$dir/logs/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="server"/></Root>
    <!-- per-request and state-change chatter is not useful on a dev box -->
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
  </Loggers>
</Configuration>
EOF
  # Format the storage once: a random cluster id, the static voter set from the config. The
  # cluster's nodes share one id, kept beside their folders.
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local id id_file="" id_lock
    if [[ "$KAFKA_COMPONENT" == kafka-node? ]]; then
      id_file="$LOCAL_DIR/kafka-cluster.id"
      # the nodes start side by side: the first one makes the id, the others wait and read it
      exec {id_lock}>"$id_file.lock"
      flock "$id_lock"
    fi
    if [[ -n "$id_file" && -s "$id_file" ]]; then
      id="$(cat "$id_file")"
    else
      id="$("$java" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>>"$dir/logs/format.log" | tail -n1)" ||
        { show_log_tail "$dir/logs/format.log"; die "kafka.tools.StorageTool random-uuid failed"; }
      if [[ -n "$id_file" && -n "$id" ]]; then echo "$id" >"$id_file"; fi
    fi
    if [[ -n "$id_file" ]]; then exec {id_lock}>&-; fi
    [[ -n "$id" ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
    info "formatting storage in $dir/data (cluster id $id)"
    # (no log4j2 config here: the tool's own output is what matters, kept in format.log)
    if ! "$java" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$id" \
      -c "$dir/server.properties" "${format_args[@]}" >>"$dir/logs/format.log" 2>&1; then
      show_log_tail "$dir/logs/format.log"
      die "formatting Kafka storage failed"
    fi
  fi
  rotate_log "$dir/logs/server.log"
}

# A self-signed broker certificate for 127.0.0.1 in a PKCS12 keystore (made once, with the JDK's
# keytool), and its PEM for clients to trust (tls/ca.pem).
kafka_tls_material() { # dir
  local dir="$1" keytool password
  [[ -f "$dir/tls/broker.p12" && -f "$dir/tls/ca.pem" ]] && return 0
  keytool="$(dirname "$(readlink -f "$(command -v java)")")/keytool"
  [[ -x "$keytool" ]] || keytool="$(command -v keytool)" || die "keytool (part of the JDK) is needed for the SASL_SSL listener"
  mkdir -p "$dir/tls"
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/tls/store-password"
  password="$(cat "$dir/tls/store-password")"
  "$keytool" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname CN=127.0.0.1 \
    -ext SAN=ip:127.0.0.1,dns:localhost -ext BC:c=ca:true -keystore "$dir/tls/broker.p12" -storetype PKCS12 \
    -storepass "$password" -keypass "$password" >"$dir/logs/keytool.log" 2>&1 ||
    { show_log_tail "$dir/logs/keytool.log"; die "keytool could not make the broker's certificate"; }
  "$keytool" -exportcert -rfc -alias broker -keystore "$dir/tls/broker.p12" -storepass "$password" \
    -file "$dir/tls/ca.pem" >>"$dir/logs/keytool.log" 2>&1 || die "keytool could not export the broker's certificate"
}

kafka_spawn() { # dir java
  local dir="$1" java="$2" extra=()
  # Kafka 4 reaches no OAuth URL unless this JVM property lists it.
  [[ -z "$KAFKA_OAUTH_JWKS_URL" ]] || extra+=("-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=$KAFKA_OAUTH_JWKS_URL")
  spawn "$dir/pid" "$dir/logs/stdout.log" "$dir" \
    "$java" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true "${extra[@]}" \
    -Djava.io.tmpdir="$dir/tmp" -Dlog4j2.configurationFile="$dir/log4j2.xml" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties"
}

kafka_logs() { echo "$LOCAL_DIR/$KAFKA_COMPONENT/logs/server.log $LOCAL_DIR/$KAFKA_COMPONENT/logs/stdout.log"; }

# Each cluster node is a component of its own (stop kafka-node2 for a rolling restart), run by
# the Kafka functions above with that node's settings.
for node in "${CLUSTER_NODES[@]}"; do
  for step in ready started prepare spawn logs; do
    eval "${node}_${step}() { kafka_node $node; kafka_${step} \"\$@\"; }"
  done
done
unset node step

# ======================================================================================
# Schema registry: Apicurio Registry (Quarkus) with its Confluent-compatible API,
# storing everything in Kafka ("kafkasql": a journal topic replayed at start). Java 21+.

REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT"

registry_ready() {
  _http_is 200 "$REGISTRY_URL/apis/ccompat/v7/subjects"
}
registry_started() { registry_ready; }

registry_prepare() { # dir java
  local dir="$1"
  kafka_ready || die "the registry keeps its data in Kafka, which is not answering on" \
    "127.0.0.1:$KAFKA_PORT; start it first (stack.sh start kafka registry)"
  mkdir -p "$dir/logs" "$dir/tmp"
}

registry_spawn() { # dir java
  local dir="$1" java="$2"
  # Env vars are Quarkus/Apicurio config keys (apicurio.x.y -> APICURIO_X_Y).
  # - management (health, metrics) moves off its default 9000 to 9001
  # - the global rule makes every subject BACKWARD compatible (checked after start)
  # - at start it replays the snapshot and journal topics, waiting one idle poll each:
  #   a 1 s poll instead of the default 5 s halves the start time (~20 s -> ~11 s)
  # - its own temp/snapshot files stay in .local/registry/tmp, not /tmp
  # The working directory is $dir: Quarkus reads ./.env and ./config/ from there.
  spawn "$dir/pid" "$dir/logs/stdout.log" "$dir" env \
    QUARKUS_HTTP_HOST=127.0.0.1 \
    QUARKUS_HTTP_PORT="$REGISTRY_PORT" \
    QUARKUS_MANAGEMENT_HOST=127.0.0.1 \
    QUARKUS_MANAGEMENT_PORT="$REGISTRY_MGMT_PORT" \
    APICURIO_STORAGE_KIND=kafkasql \
    APICURIO_KAFKASQL_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" \
    APICURIO_RULES_GLOBAL_COMPATIBILITY=BACKWARD \
    APICURIO_KAFKASQL_CONSUMER_POLL_TIMEOUT=1000 \
    APICURIO_STORAGE_SNAPSHOT_LOCATION="$dir/tmp" \
    APICURIO_IMPORT_WORK_DIR="$dir/tmp" \
    "$java" -Xmx512m -Djava.io.tmpdir="$dir/tmp" -jar "$dir/dist/quarkus-run.jar"
}

# The global compatibility rule is what makes schema evolution safe; if the env var above
# ever stops being read (renamed in a new version), set it through the API instead.
registry_after_start() {
  local cfg
  cfg="$(curl -s --max-time 5 "$REGISTRY_URL/apis/ccompat/v7/config" || true)"
  if [[ "$cfg" != *'"BACKWARD"'* ]]; then
    warn "global compatibility is not BACKWARD ($cfg); setting it through the API"
    curl -sf --max-time 5 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
      -d '{"compatibility":"BACKWARD"}' "$REGISTRY_URL/apis/ccompat/v7/config" >/dev/null ||
      die "could not set the global compatibility rule"
  fi
}

registry_logs() { echo "$LOCAL_DIR/registry/logs/stdout.log"; }

# ======================================================================================
# S3: Adobe S3Mock (Spring Boot), HTTP 9090 + HTTPS 9191. Java 17+.
# Its defaults are a temp folder deleted on exit: point it at .local/s3/data and keep it.

S3_URL="http://127.0.0.1:$S3_PORT"

s3_ready() { _http_is 200 "$S3_URL/"; }
s3_started() { s3_ready; }

s3_prepare() { mkdir -p "$1/data" "$1/logs" "$1/tmp"; }

s3_spawn() { # dir java
  local dir="$1" java="$2"
  # No --server.port: S3Mock sets up its own HTTP connector, and server.port moves HTTPS.
  spawn "$dir/pid" "$dir/logs/stdout.log" "$dir" \
    "$java" -Xmx256m -Djava.io.tmpdir="$dir/tmp" -jar "$dir/s3mock.jar" \
    --com.adobe.testing.s3mock.domain.root="$dir/data" \
    --com.adobe.testing.s3mock.domain.retainFilesOnExit=true
}

s3_logs() { echo "$LOCAL_DIR/s3/logs/stdout.log"; }

# ======================================================================================
# Keycloak (Quarkus distribution) in dev mode: H2 database in dist/data, realms imported
# from deploy/local/keycloak/*-realm.json at start. Java 17+.

KEYCLOAK_URL="http://127.0.0.1:$KEYCLOAK_PORT"

keycloak_ready() {
  _http_is 200 "$KEYCLOAK_URL/realms/muxly" && _http_is 200 "$KEYCLOAK_URL/realms/other"
}
keycloak_started() { keycloak_ready; }

keycloak_prepare() { # dir java
  local dir="$1" sum
  mkdir -p "$dir/logs" "$dir/tmp" "$dir/dist/data/import"
  # --import-realm skips realms that already exist, so an edited realm file would silently
  # not apply. Keycloak holds nothing but these fixtures here: when the files change, drop
  # its database and let the start import them afresh.
  sum="$(cat "$DEPLOY_DIR"/keycloak/*-realm.json | sha256sum | cut -c1-16)"
  if [[ -d "$dir/dist/data/h2" && "$(cat "$dir/realms.sha" 2>/dev/null || true)" != "$sum" ]]; then
    info "realm files changed since the last import: resetting Keycloak's database"
    rm -rf "$dir/dist/data/h2"
  fi
  # Keycloak insists that an import file is named <realm name>-realm.json.
  rm -f "$dir/dist/data/import/"*.json
  local f realm
  for f in "$DEPLOY_DIR"/keycloak/*-realm.json; do
    realm="$(sed -n 's/^ *"realm": *"\([^"]*\)".*/\1/p' "$f" | head -n1)"
    [[ -n "$realm" ]] || die "no \"realm\" name found in $f"
    cp "$f" "$dir/dist/data/import/$realm-realm.json"
  done
  echo "$sum" >"$dir/realms.sha"
}

keycloak_spawn() { # dir java
  local dir="$1" java="$2"
  # kc.sh picks java from JAVA_HOME; a user's JAVA_OPTS would replace its defaults and drop
  # the heap setting, so it is unset. JAVA_OPTS_KC_HEAP is what kc.sh reads for the heap.
  spawn "$dir/pid" "$dir/logs/stdout.log" "$dir" env -u JAVA_OPTS \
    JAVA_HOME="$(java_home_of "$java")" \
    JAVA_OPTS_KC_HEAP="-Xms64m -Xmx768m" \
    JAVA_OPTS_APPEND="-Djava.io.tmpdir=$dir/tmp" \
    KC_BOOTSTRAP_ADMIN_USERNAME=admin \
    KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    bash "$dir/dist/bin/kc.sh" start-dev \
    --http-host=127.0.0.1 \
    --http-port="$KEYCLOAK_PORT" \
    --http-management-port="$KEYCLOAK_MGMT_PORT" \
    --health-enabled=true \
    --import-realm
}

keycloak_logs() { echo "$LOCAL_DIR/keycloak/logs/stdout.log"; }

# ======================================================================================
# generic start / stop / status

show_component_logs() { # component
  local f
  for f in $("$1_logs"); do show_log_tail "$f" 30; done
}

start_component() { # component
  local c="$1"
  local COMPONENT="$c" dir="$LOCAL_DIR/$c" pid java port deadline rc started=$SECONDS
  mkdir -p "$dir"
  take_lock "$dir/start.lock"
  deadline="$(timeout_of "$c")"

  if pid="$(read_live_pid "$dir/pid" "$dir/")"; then
    if "${c}_ready"; then
      info "already running (pid $pid) and answering (ports $(ports_of "$c" | tr ' ' ','))"
      release_lock
      return 0
    fi
    # e.g. started a moment ago by another invocation: wait for it rather than start twice
    info "running (pid $pid) but not answering yet; waiting up to ${deadline}s"
    if wait_until "$pid" "$deadline" "${c}_ready"; then
      info "answering now (pid $pid)"
      release_lock
      return 0
    fi
    show_component_logs "$c"
    die "pid $pid is running but does not answer; try: $0 restart $c"
  fi
  rm -f "$dir/pid"

  # Ports first: a clear message beats a bind error buried in a Java stack trace.
  for port in $(ports_of "$c"); do
    if port_in_use "$port"; then
      die "$c needs port $port, but it is already in use by $(port_owner "$port")." \
        "Stop that process first (if it is a $c started from another checkout or" \
        "MUXLY_LOCAL_DIR, stop it from there). $c uses ports $(ports_of "$c" | tr ' ' ',')."
    fi
  done

  local java_err
  java_err="$(mktemp)"
  java="$(find_java "$(java_min_of "$c")" 2>"$java_err")" || {
    local msg
    msg="$(cat "$java_err")"
    rm -f "$java_err"
    die "cannot start $c: $msg"
  }
  rm -f "$java_err"

  # Download/unpack on first use (a no-op once materialised). The lock fd is not passed on.
  "$DEPLOY_DIR/fetch.sh" "${c%-node?}" {LOCK_FD}>&-

  "${c}_prepare" "$dir" "$java"
  mkdir -p "$dir/logs"
  rotate_log "$dir/logs/stdout.log"
  info "starting with $java (Java $(java_major "$java")), logs in $dir/logs"
  "${c}_spawn" "$dir" "$java"
  pid="$(cat "$dir/pid")"

  rc=0
  wait_until "$pid" "$deadline" "${c}_started" || rc=$?
  if ((rc == 1)); then
    show_component_logs "$c"
    rm -f "$dir/pid"
    die "$c exited during start (pid $pid); its log is above"
  elif ((rc == 2)); then
    show_component_logs "$c"
    warn "stopping the unresponsive $c (pid $pid)"
    stop_pid "$pid" 10 || true
    rm -f "$dir/pid"
    die "$c did not answer within ${deadline}s (MUXLY_START_TIMEOUT raises the limit)"
  fi
  if declare -F "${c}_after_start" >/dev/null; then "${c}_after_start"; fi
  info "started (pid $pid, ports $(ports_of "$c" | tr ' ' ',')) in $((SECONDS - started))s"
  release_lock
}

stop_component() { # component
  local c="$1"
  # shellcheck disable=SC2034 # COMPONENT tags the messages of info/warn/die
  local COMPONENT="$c" dir="$LOCAL_DIR/$c" pid
  [[ -d "$dir" ]] || { info "not running"; return 0; }
  take_lock "$dir/start.lock"
  if pid="$(read_live_pid "$dir/pid" "$dir/")"; then
    info "stopping (pid $pid)"
    stop_pid "$pid" 30 || { release_lock; die "pid $pid would not die"; }
    info "stopped"
  else
    info "not running"
  fi
  rm -f "$dir/pid"
  release_lock
}

is_running() { read_live_pid "$LOCAL_DIR/$1/pid" "$LOCAL_DIR/$1/" >/dev/null; }

# One line per component; returns 0 if running and answering.
status_component() { # component
  local c="$1" dir="$LOCAL_DIR/$1" pid ports busy=""
  ports="$(ports_of "$c" | tr ' ' ',')"
  if pid="$(read_live_pid "$dir/pid" "$dir/")"; then
    if "${c}_ready"; then
      printf '%-9s running   pid %-8s ports %s\n' "$c" "$pid" "$ports"
      return 0
    fi
    printf '%-9s starting  pid %-8s ports %s (not answering yet)\n' "$c" "$pid" "$ports"
    return 1
  fi
  for port in $(ports_of "$c"); do port_in_use "$port" && busy+=" $port"; done
  printf '%-9s stopped   %-12s ports %s%s\n' "$c" "" "$ports" \
    "${busy:+ (in use by another process:$busy)}"
  return 1
}

# ======================================================================================
# command line

(($# >= 1)) || usage
action="$1"
shift

# Expand arguments into a de-duplicated list in start order.
requested=()
for arg in "$@"; do
  case "$arg" in
    all) requested+=("${ALL_COMPONENTS[@]}") ;;
    kafka | registry | s3 | keycloak | kafka-node[123]) requested+=("$arg") ;;
    kafka-cluster) requested+=("${CLUSTER_NODES[@]}") ;;
    *) usage ;;
  esac
done
explicit=$#
if ((${#requested[@]} == 0)); then
  if [[ "$action" == status ]]; then requested=("${ALL_COMPONENTS[@]}"); else requested=("${CORE_COMPONENTS[@]}"); fi
fi
has() { [[ " ${requested[*]} " == *" $1 "* ]]; }
ordered() { # the requested components, in start order (or reverse with "reverse")
  local c out=()
  for c in "${ALL_COMPONENTS[@]}" "${CLUSTER_NODES[@]}"; do has "$c" && out+=("$c"); done
  if [[ "${1:-}" == reverse ]]; then
    local i
    for ((i = ${#out[@]} - 1; i >= 0; i--)); do echo "${out[i]}"; done
  else
    printf '%s\n' "${out[@]}"
  fi
}

case "$action" in
  start)
    # the registry cannot start without Kafka
    if has registry && ! has kafka; then requested+=(kafka); fi
    cluster=()
    for c in $(ordered); do
      if [[ "$c" == kafka-node? ]]; then cluster+=("$c"); else start_component "$c"; fi
    done
    # NOTE: a cluster node completes its start only once a quorum of controllers (two of three)
    # runs, so the nodes start side by side; each waits for its own answer.
    if ((${#cluster[@]} == 1)); then
      start_component "${cluster[0]}"
    elif ((${#cluster[@]} > 1)); then
      pids=()
      for c in "${cluster[@]}"; do
        start_component "$c" &
        pids+=($!)
      done
      failed=0
      for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
      ((failed == 0)) || die "the Kafka cluster did not start (see above)"
    fi
    ;;
  stop)
    # stopping Kafka under a running registry would leave it failing: stop it too
    if has kafka && ! has registry && is_running registry; then
      info "also stopping the registry (it keeps its data in Kafka)"
      requested+=(registry)
    fi
    for c in $(ordered reverse); do stop_component "$c"; done
    ;;
  restart)
    # a running registry goes down with Kafka and comes back after it
    if has kafka && ! has registry && is_running registry; then requested+=(registry); fi
    for c in $(ordered reverse); do stop_component "$c"; done
    # restarting the registry alone leaves Kafka alone, but makes sure it runs
    if has registry && ! has kafka; then requested+=(kafka); fi
    for c in $(ordered); do start_component "$c"; done
    ;;
  status)
    rc=0
    for c in $(ordered); do status_component "$c" || rc=3; done
    ((explicit)) || rc=0
    exit "$rc"
    ;;
  answers)
    # Exit 0 when every requested component answers on its ports, whoever started it (another
    # checkout, another MUXLY_LOCAL_DIR): the test runner then uses it instead of starting a
    # second copy that would find its ports taken.
    for c in $(ordered); do "${c}_ready" >/dev/null 2>&1 || exit 3; done
    exit 0
    ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
