"""The database's own refusal to change the audit trail: triggers on PostgreSQL and SQLite.

The ORM already refuses to update or delete audit rows (models.AppendOnlyModel), but raw SQL, a
database shell or another program goes around the ORM. These triggers make the database refuse
UPDATE and DELETE (and TRUNCATE on PostgreSQL, which row triggers never see) on the prediction
requests, the outcomes and the seals, whoever asks. Whoever may drop a trigger can still tamper;
the seals (services/sealing.py) make that detectable.

Migration 0009 installs them through `install`, and the test suite lifts them around Django's
flush between transactional tests (predictor/tests/conftest.py), so both read the SQL from here.
Changing the SQL needs a new migration that calls `install` again: migrations that already ran
do not run twice.

A migration that rebuilds one of these tables on SQLite (Django does so to alter a column)
drops its triggers with the old table; such a migration must call `install` after it.
test_audit_triggers.py checks that the fully migrated database has every trigger.
"""

# Table names, not models: the migration that installs the triggers must not depend on how the
# models look later.
TABLES = ("predictor_predictionrequest", "predictor_outcome", "predictor_auditseal")

REASON = (
    "the audit trail is append-only: its rows are the record of what was asked, answered and "
    "learned, and are never changed or deleted (deploy/README.md, Tamper evidence)"
)

_PG_FUNCTION = "viewsite_refuse_audit_change"

# restrict_violation (SQLSTATE 23001) makes Django raise IntegrityError, as SQLite's RAISE(ABORT)
# does, so a refusal looks the same to the application on both databases.
_PG_INSTALL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: {REASON}';
END
$body$
"""


def _sqlite_trigger(table: str, operation: str) -> str:
    return f"viewsite_append_only_{table}_{operation.lower()}"


def install_sql(vendor: str) -> list[str]:
    """The statements that install the triggers; idempotent, so reinstalling is harmless."""
    if vendor == "postgresql":
        statements = [_PG_INSTALL_FUNCTION]
        for table in TABLES:
            statements += [
                f"CREATE OR REPLACE TRIGGER viewsite_append_only "
                f"BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()",
                f"CREATE OR REPLACE TRIGGER viewsite_append_only_truncate "
                f"BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()",
            ]
        return statements
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {_sqlite_trigger(table, operation)} "
            f"BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{operation} on {table} refused: {REASON}'); END"
            for table in TABLES
            for operation in ("UPDATE", "DELETE")
        ]
    raise NotImplementedError(f"No append-only triggers for the {vendor} database.")


def drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = []
        for table in TABLES:
            statements += [
                f"DROP TRIGGER IF EXISTS viewsite_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS viewsite_append_only_truncate ON {table}",
            ]
        return [*statements, f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()"]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {_sqlite_trigger(table, operation)}"
            for table in TABLES
            for operation in ("UPDATE", "DELETE")
        ]
    raise NotImplementedError(f"No append-only triggers for the {vendor} database.")


def install(connection) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(connection.vendor):
            cursor.execute(statement)


def drop(connection) -> None:
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor):
            cursor.execute(statement)


def installed(connection) -> set[tuple[str, str]]:
    """(table, operation) pairs the database refuses now: how tests and operators check."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # pg_trigger rather than information_schema: it also says whether a trigger was
            # disabled (ALTER TABLE ... DISABLE TRIGGER), which refuses nothing.
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname IN ('viewsite_append_only', 'viewsite_append_only_truncate') "
                "AND t.tgenabled <> 'D'"
            )
            operations = {
                "viewsite_append_only": ("UPDATE", "DELETE"),
                "viewsite_append_only_truncate": ("TRUNCATE",),
            }
            return {
                (table, operation)
                for table, name in cursor.fetchall()
                for operation in operations.get(name, ())
            }
        cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        return {
            (table, operation)
            for table, name in cursor.fetchall()
            for operation in ("UPDATE", "DELETE")
            if name == _sqlite_trigger(table, operation)
        }
