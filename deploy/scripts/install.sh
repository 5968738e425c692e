#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prepares a Linux host to run Muxly natively from this checkout (e.g. cloned to /opt/muxly):
# Node 24, the npm dependencies, the Java components of the local stack (optional), a settings
# file, and one systemd unit per service. Idempotent: run it again after a `git pull`.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/install.sh [options]

Installs in place, from this checkout ($MUXLY_REPO):
  1. Node 24 (from the npm registry into .local/node when the host's Node is older) and the npm
     dependencies (npm ci);
  2. with --with-local-stack, Kafka and the schema registry (Maven Central) and a
     muxly-stack.service that starts them (for a single host without a Kafka cluster);
  3. the settings file (default /etc/muxly/muxly.yaml, from config/production.example.yaml when
     that exists, else config/local.yaml; an existing file is kept) and /etc/muxly/muxly.env for
     secrets as MUXLY_ variables (mode 0600);
  4. systemd units muxly-ingest, muxly-transformer, muxly-router and muxly-control-plane, running
     as the service user, restarted on failure but not on a configuration error (exit 78).
Then: edit the settings, 'systemctl daemon-reload' and 'systemctl enable --now muxly-<service>'.

options:
  --user NAME          the account the services run as (default muxly; created when missing, as root)
  --config FILE        the settings file (default /etc/muxly/muxly.yaml)
  --unit-dir DIR       where the unit files go (default /etc/systemd/system)
  --state-dir DIR      writable data folder of the services (default /var/lib/muxly)
  --with-local-stack   also install Kafka and the schema registry and their unit
  --skip-deps          do not install Node or npm dependencies (they are there already)
  --dry-run            print what would be done, change nothing
  -h, --help           this text
HELP
}

user=muxly config=/etc/muxly/muxly.yaml unit_dir=/etc/systemd/system state_dir=/var/lib/muxly
local_stack=0 skip_deps=0
while (($#)); do
  case "$1" in
    --user) user="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --config) config="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --unit-dir) unit_dir="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --state-dir) state_dir="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --with-local-stack) local_stack=1; shift ;;
    --skip-deps) skip_deps=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$(uname -s)" == Linux ]] || die "install.sh prepares Linux hosts (systemd); this is $(uname -s)"
need_tool npm "install any Node.js with npm first (e.g. apt-get install -y nodejs npm); Node 24 comes from the npm registry"
need_tool systemctl "systemd is needed to run the services (or start them with npm start)"
if [[ "$local_stack" == 1 ]]; then
  need_tool java "install a JDK 17+ (and 21+ for the schema registry)"
  need_tool mvn "install Maven (apt-get install -y maven)"
fi
config_dir="$(dirname "$config")"
env_file="$config_dir/muxly.env"

# 1. Node 24 and the dependencies, through the same helpers as npm start.
# shellcheck source=../../scripts/env.sh
source "$MUXLY_REPO/scripts/env.sh"
if [[ "$skip_deps" == 0 ]]; then
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+ ensure_node  # Node 24 into %q when the host has another version\n' "$MUXLY_LOCAL_DIR/node"
    printf '+ (cd %q && npm ci --omit=dev)\n' "$MUXLY_REPO"
  else
    ensure_node
    (cd "$MUXLY_REPO" && npm ci --omit=dev --loglevel=error --no-fund --no-audit)
  fi
fi
node_bin="$MUXLY_LOCAL_DIR/node/node_modules/node/bin/node"
if command -v node >/dev/null 2>&1 && [[ "$(node_major)" == 24 ]]; then node_bin="$(command -v node)"; fi

# 2. The local Kafka and registry, for a single host.
if [[ "$local_stack" == 1 ]]; then run bash "$MUXLY_REPO/deploy/local/fetch.sh" kafka registry; fi

# 3. The service user, folders and settings.
if ! id -u "$user" >/dev/null 2>&1; then
  [[ "$(id -u)" == 0 || "$DRY_RUN" == 1 ]] || die "user '$user' does not exist and only root can create it (or pass --user)"
  run useradd --system --home-dir "$state_dir" --shell /usr/sbin/nologin "$user"
fi
run mkdir -p "$config_dir" "$state_dir" "$unit_dir"
if [[ ! -f "$config" ]]; then
  template="$MUXLY_REPO/config/production.example.yaml"
  [[ -f "$template" ]] || template="$MUXLY_REPO/config/local.yaml"
  run cp "$template" "$config"
  note "wrote $config from $(basename "$template"): edit it before starting the services"
fi
if [[ ! -f "$env_file" ]]; then
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+ install -m 0600 /dev/null %q\n' "$env_file"
  else
    install -m 0600 /dev/null "$env_file"
    printf '# Secrets as MUXLY_ variables (docs/configuration.md), e.g.\n# MUXLY_CONTROL_PLANE__DATABASE__URL=postgresql://...\n' >"$env_file"
  fi
fi
if [[ "$(id -u)" == 0 ]]; then run chown -R "$user:" "$state_dir"; fi

# 4. One unit per service.
write_unit() { # file content
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+ write %q\n' "$1"
  else
    printf '%s\n' "$2" >"$1"
  fi
}
stack_after=""
if [[ "$local_stack" == 1 ]]; then
  stack_after=" muxly-stack.service"
  write_unit "$unit_dir/muxly-stack.service" "[Unit]
Description=Muxly local Kafka and schema registry
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
User=$user
Environment=MUXLY_LOCAL_DIR=$state_dir/stack
ExecStart=/usr/bin/env bash $MUXLY_REPO/deploy/local/stack.sh start kafka registry
ExecStop=/usr/bin/env bash $MUXLY_REPO/deploy/local/stack.sh stop kafka registry
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target"
fi

for service in ingest transformer router control-plane; do
  heap=""
  case "$service" in ingest | transformer | router) heap=" --max-old-space-size=512 --max-semi-space-size=16" ;; esac
  write_unit "$unit_dir/muxly-$service.service" "[Unit]
Description=Muxly $service
Documentation=file://$MUXLY_REPO/docs/deployment.md
After=network-online.target$stack_after
Wants=network-online.target

[Service]
Type=simple
User=$user
WorkingDirectory=$MUXLY_REPO
Environment=NODE_ENV=production
Environment=MUXLY_CONFIG=$config
EnvironmentFile=-$env_file
ExecStart=$node_bin$heap $MUXLY_REPO/$service/src/main.ts
# SIGTERM starts the graceful stop (in-flight work finished and committed) within 30 s.
KillSignal=SIGTERM
TimeoutStopSec=45
Restart=on-failure
RestartSec=2
# 78: a setting is wrong; restarting cannot fix it (the journal names the setting).
RestartPreventExitStatus=78
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ReadWritePaths=$state_dir

[Install]
WantedBy=multi-user.target"
done
[[ "$DRY_RUN" == 1 ]] || note "units written to $unit_dir; next: systemctl daemon-reload && systemctl enable --now muxly-control-plane muxly-ingest muxly-transformer muxly-router"
