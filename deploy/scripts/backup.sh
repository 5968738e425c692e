#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Backs up what Muxly cannot derive: the control plane's database, the schema registry's schemas
# (with their ids) and the settings file. Everything else (topics' data, consumer positions) lives
# in Kafka, whose own replication and retention protect it.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/backup.sh --database-url URL --registry-url URL [--settings FILE] [--out DIR] [--dry-run]

Writes into DIR (default backups/muxly-<UTC time>):
  control-plane.dump   pg_dump of the control plane's database (custom format, for pg_restore)
  registry.zip         the registry's export: every schema with its global and content ids
  settings.yaml        the settings file, when --settings is given
  SHA256SUMS           checksums that restore.sh verifies

options:
  --database-url URL   the control plane's PostgreSQL (or MUXLY_CONTROL_PLANE__DATABASE__URL)
  --registry-url URL   the Apicurio registry's base URL, e.g. http://127.0.0.1:8085 (or MUXLY_REGISTRY_BASE_URL)
  --settings FILE      the settings file to keep (or MUXLY_CONFIG)
  --out DIR            where to write the backup
  --dry-run            print what would be done, write nothing
  -h, --help           this text
HELP
}

database_url="${MUXLY_CONTROL_PLANE__DATABASE__URL:-}" registry_url="${MUXLY_REGISTRY_BASE_URL:-}"
settings="${MUXLY_CONFIG:-}" out="backups/muxly-$(date -u +%Y%m%dT%H%M%SZ)"
while (($#)); do
  case "$1" in
    --database-url) database_url="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --registry-url) registry_url="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --settings) settings="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --out) out="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

need_value --database-url "$database_url" "the control plane's database (postgresql://...)"
need_value --registry-url "$registry_url" "the registry's base URL (http://host:8085)"
[[ -z "$settings" || -f "$settings" ]] || die "--settings: no such file: $settings"
need_tool pg_dump "install PostgreSQL's client programs (apt-get install -y postgresql-client)"
need_tool curl "install curl"
need_tool sha256sum "install coreutils"
registry_url="${registry_url%/}"
[[ "$DRY_RUN" == 1 || ! -e "$out" ]] || die "--out $out exists already: choose a new folder"

run mkdir -p "$out"
run pg_dump --format=custom --no-owner --no-privileges --file="$out/control-plane.dump" --dbname="$database_url"
run curl -fsS --retry 3 -o "$out/registry.zip" "$registry_url/apis/registry/v3/admin/export"
if [[ -n "$settings" ]]; then run cp "$settings" "$out/settings.yaml"; fi
if [[ "$DRY_RUN" == 1 ]]; then
  printf '+ (cd %q && sha256sum * > SHA256SUMS)\n' "$out"
else
  (cd "$out" && sha256sum -- * >SHA256SUMS)
  note "backup written to $out ($(du -sh "$out" | cut -f1))"
fi
