"""Database-level protection of the audit tables (events and checkpoints): they refuse UPDATE,
DELETE and TRUNCATE.

PostgreSQL: row triggers for UPDATE/DELETE and a statement trigger for TRUNCATE (TRUNCATE fires
no DELETE trigger), enabled ALWAYS so `session_replication_role = replica` cannot silence them.
SQLite: BEFORE UPDATE/DELETE triggers (SQLite has no TRUNCATE; its truncate optimisation is off
when a DELETE trigger exists). In production the app's database role should also hold only
INSERT and SELECT on the table; the triggers guard against everything else that connects.
"""
TABLE = "audit_auditevent"
CHECKPOINT_TABLE = "audit_checkpoint"
MESSAGE = "audit log is append-only"

# Per table: (PostgreSQL row trigger, PostgreSQL truncate trigger, SQLite update, SQLite delete).
# The event table keeps the names it was first installed with.
_TRIGGERS = {
    TABLE: ("audit_refuse_update_delete", "audit_refuse_truncate", "audit_refuse_update", "audit_refuse_delete"),
    CHECKPOINT_TABLE: ("checkpoint_refuse_update_delete", "checkpoint_refuse_truncate",
                       "checkpoint_refuse_update", "checkpoint_refuse_delete"),
}
PROTECTED_TABLES = tuple(_TRIGGERS)

_POSTGRES_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION answerprint_audit_refuse() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """


def _postgres_install(table):
    row, truncate, _, _ = _TRIGGERS[table]
    return [
        f"CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION answerprint_audit_refuse()",
        f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION answerprint_audit_refuse()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {row}",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {truncate}",
    ]


def _postgres_remove(table):
    row, truncate, _, _ = _TRIGGERS[table]
    return [f"DROP TRIGGER IF EXISTS {row} ON {table}", f"DROP TRIGGER IF EXISTS {truncate} ON {table}"]


def _sqlite_install(table):
    _, _, update, delete = _TRIGGERS[table]
    return [
        f"CREATE TRIGGER IF NOT EXISTS {update} BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused on {table}'); END",
        f"CREATE TRIGGER IF NOT EXISTS {delete} BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused on {table}'); END",
    ]


def _sqlite_remove(table):
    _, _, update, delete = _TRIGGERS[table]
    return [f"DROP TRIGGER IF EXISTS {update}", f"DROP TRIGGER IF EXISTS {delete}"]


def _existing(connection, tables):
    """The protected tables that exist: migrations install each table's triggers as it appears."""
    present = set(connection.introspection.table_names())
    return [table for table in (PROTECTED_TABLES if tables is None else tables) if table in present]


def _run(connection, statements):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Run deferred FK checks now: ALTER TABLE refuses to run while any are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for statement in statements:
            cursor.execute(statement)


def install(connection, tables=None):
    """Put the triggers on `tables` (default: every protected table that exists); idempotent."""
    tables = _existing(connection, tables)
    if not tables:
        return
    if connection.vendor == "postgresql":
        statements = [_POSTGRES_FUNCTION]
        for table in tables:
            statements += _postgres_remove(table) + _postgres_install(table)
    else:
        statements = [statement for table in tables for statement in _sqlite_install(table)]
    _run(connection, statements)


def remove(connection, tables=None):
    statements = []
    for table in _existing(connection, tables):
        statements += (_postgres_remove if connection.vendor == "postgresql" else _sqlite_remove)(table)
    if statements:
        _run(connection, statements)


def missing_protections(connection):
    """Names of the protections that are absent or can be silenced; empty when all are in place."""
    missing = []
    with connection.cursor() as cursor:
        for table in PROTECTED_TABLES:
            row, truncate, update, delete = _TRIGGERS[table]
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal",
                    [table],
                )
                found = dict(cursor.fetchall())
                for name in (row, truncate):
                    if name not in found:
                        missing.append(f"trigger {name} on {table} is missing")
                    elif found[name] != "A":  # 'A' = ALWAYS: fires even under session_replication_role=replica
                        missing.append(f"trigger {name} on {table} is not ENABLE ALWAYS")
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
                found = {r[0] for r in cursor.fetchall()}
                missing += [f"trigger {name} on {table} is missing" for name in (update, delete) if name not in found]
    return missing
