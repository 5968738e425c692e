#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Restores a backup of backup.sh into an EMPTY PostgreSQL database and an EMPTY schema registry.
# Start the control plane afterwards: it republishes every pipeline object on the config topic,
# so the routers and ingest pick the restored configuration up live.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<HELP
usage: deploy/scripts/restore.sh --from DIR --database-url URL --registry-url URL [--settings-to FILE] [--dry-run]

Checks the backup's checksums, refuses a database that has tables or a registry that has
schemas (a restore never merges), then restores the database (pg_restore), the registry's
schemas with their original ids (the registry's import), and the settings file when
--settings-to is given. Stop the control plane while restoring.

options:
  --from DIR            the backup folder (from backup.sh)
  --database-url URL    the empty control-plane database (or MUXLY_CONTROL_PLANE__DATABASE__URL)
  --registry-url URL    the empty registry's base URL (or MUXLY_REGISTRY_BASE_URL)
  --settings-to FILE    where to put the backed-up settings file
  --dry-run             check the inputs and print what would be done, change nothing
  -h, --help            this text
HELP
}

database_url="${MUXLY_CONTROL_PLANE__DATABASE__URL:-}" registry_url="${MUXLY_REGISTRY_BASE_URL:-}"
from="" settings_to=""
while (($#)); do
  case "$1" in
    --from) from="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --database-url) database_url="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --registry-url) registry_url="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --settings-to) settings_to="$(option_value "$1" $# "${2:-}")"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

need_value --from "$from" "the backup folder written by backup.sh"
need_value --database-url "$database_url" "the empty control-plane database (postgresql://...)"
need_value --registry-url "$registry_url" "the empty registry's base URL (http://host:8085)"
[[ -f "$from/SHA256SUMS" && -f "$from/control-plane.dump" && -f "$from/registry.zip" ]] ||
  die "$from is not a backup of backup.sh (SHA256SUMS, control-plane.dump and registry.zip are needed)"
[[ -z "$settings_to" || -f "$from/settings.yaml" ]] || die "--settings-to given, but the backup has no settings.yaml"
need_tool pg_restore "install PostgreSQL's client programs (apt-get install -y postgresql-client)"
need_tool psql "install PostgreSQL's client programs (apt-get install -y postgresql-client)"
need_tool curl "install curl"
registry_url="${registry_url%/}"

(cd "$from" && sha256sum --check --quiet SHA256SUMS) || die "the backup's checksums do not match: it is damaged"

# Never merge into live data: both targets must be empty.
if command -v psql >/dev/null 2>&1; then
  tables="$(psql --dbname="$database_url" -tAc "select count(*) from pg_tables where schemaname = 'public'" 2>&1)" ||
    die "cannot query the database: $tables"
  [[ "$tables" == 0 ]] || die "the database has $tables tables: restore into an empty database (createdb a new one)"
fi
subjects="$(curl -fsS "$registry_url/apis/ccompat/v7/subjects" 2>&1)" || die "the registry does not answer: $subjects"
[[ "$subjects" == "[]" ]] || die "the registry already has schemas: restore into an empty registry"

run pg_restore --exit-on-error --no-owner --no-privileges --dbname="$database_url" "$from/control-plane.dump"
run curl -fsS --retry 3 -X POST -H 'Content-Type: application/zip' --data-binary "@$from/registry.zip" \
  "$registry_url/apis/registry/v3/admin/import"
if [[ -n "$settings_to" ]]; then run cp "$from/settings.yaml" "$settings_to"; fi
[[ "$DRY_RUN" == 1 ]] || note "restored $from; start the control plane: it republishes the configuration"
