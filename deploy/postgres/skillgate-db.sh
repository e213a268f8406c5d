#!/bin/sh
# One-shot (service skillgate-state): the role and database (default `skillgate` both) on the
# PostgreSQL that Temporal uses, for the state every replica shares (storage.kind: postgres).
# Skillgate applies its own schema migrations at start. Safe to run again: it sets the password
# from SKILLGATE_DB_PASSWORD each time (rotation: change it, re-run, restart the replicas).
# Reads PGHOST, PGPORT, PGUSER, PGPASSWORD (a superuser), SKILLGATE_DB_PASSWORD, and optionally
# SKILLGATE_DB_USER, SKILLGATE_DB_NAME.
set -eu
: "${PGHOST:?}" "${PGUSER:?}" "${PGPASSWORD:?}" "${SKILLGATE_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 -q -d postgres \
  -v role="${SKILLGATE_DB_USER:-skillgate}" -v db="${SKILLGATE_DB_NAME:-skillgate}" -v pw="$SKILLGATE_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
echo "database ${SKILLGATE_DB_NAME:-skillgate} ready for role ${SKILLGATE_DB_USER:-skillgate}"
