#!/bin/sh
# One-shot, before the Temporal server starts (compose service `temporal-schema`, image
# temporalio/admin-tools): create Temporal's two PostgreSQL databases and bring their schemas
# up to date. Safe to run on every `docker compose up`: existing databases are kept.
set -eu

export SQL_PASSWORD="$POSTGRES_PWD"
schema=/etc/temporal/schema/postgresql/v12

sql_tool() {
    temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

sql_tool --db "$DBNAME" create
sql_tool --db "$DBNAME" setup-schema -v 0.0
sql_tool --db "$DBNAME" update-schema -d "$schema/temporal/versioned"

sql_tool --db "$VISIBILITY_DBNAME" create
sql_tool --db "$VISIBILITY_DBNAME" setup-schema -v 0.0
sql_tool --db "$VISIBILITY_DBNAME" update-schema -d "$schema/visibility/versioned"

echo "Temporal schemas are up to date in $DBNAME and $VISIBILITY_DBNAME."
