#!/bin/sh
# One-shot (service temporal-schema): creates the `temporal` and `temporal_visibility` databases
# if missing and brings both schemas up to the version this admin-tools image ships — the
# server's version (same tag). Safe to run again: that is how an upgrade gets its schema changes.
# temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu
: "${SQL_HOST:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
schemas=/etc/temporal/schema/postgresql/v12

for db in temporal temporal_visibility; do
  case $db in
    temporal) dir=$schemas/temporal/versioned ;;
    *) dir=$schemas/visibility/versioned ;;
  esac
  # `create` fails on an existing database: that one failure is expected, any other stops here.
  if ! out=$(temporal-sql-tool --db "$db" create 2>&1); then
    case $out in
      *"already exists"*) echo "database $db exists" ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$dir"
done
echo "temporal schemas are up to date"
