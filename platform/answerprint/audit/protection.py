"""Database-level protection of the audit tables (events, checkpoints and stored exports).

Checkpoints and stored exports refuse UPDATE, DELETE and TRUNCATE outright. Events refuse DELETE and TRUNCATE, and
allow exactly one UPDATE per row: the seal, which fills `sequence`, `prev_hash` and `hash` while
they are empty and changes nothing else. A sealed event can never change again.

PostgreSQL: row triggers for UPDATE/DELETE and a statement trigger for TRUNCATE (TRUNCATE fires
no DELETE trigger), enabled ALWAYS so `session_replication_role = replica` cannot silence them.
SQLite: BEFORE UPDATE/DELETE triggers (SQLite has no TRUNCATE; its truncate optimisation is off
when a DELETE trigger exists). In production the app's database role should also hold only
INSERT, SELECT and UPDATE on the table; the triggers guard against everything else.
"""
import re

TABLE = "audit_auditevent"
CHECKPOINT_TABLE = "audit_checkpoint"
STORED_EXPORT_TABLE = "audit_storedexport"
MESSAGE = "audit log is append-only"

# Per table: (PostgreSQL row trigger, PostgreSQL truncate trigger, SQLite update, SQLite delete).
# The event table keeps the names it was first installed with.
_TRIGGERS = {
    TABLE: ("audit_refuse_update_delete", "audit_refuse_truncate", "audit_refuse_update", "audit_refuse_delete"),
    CHECKPOINT_TABLE: ("checkpoint_refuse_update_delete", "checkpoint_refuse_truncate",
                       "checkpoint_refuse_update", "checkpoint_refuse_delete"),
    STORED_EXPORT_TABLE: ("stored_export_refuse_update_delete", "stored_export_refuse_truncate",
                          "stored_export_refuse_update", "stored_export_refuse_delete"),
}
PROTECTED_TABLES = tuple(_TRIGGERS)

# The columns sealing fills; everything else about an event is fixed when it is written.
SEAL_COLUMNS = ("sequence", "prev_hash", "hash")

# Per table, the PostgreSQL function its row trigger runs.
_POSTGRES_ROW_FUNCTION = {TABLE: "answerprint_audit_seal_only", CHECKPOINT_TABLE: "answerprint_audit_refuse",
                          STORED_EXPORT_TABLE: "answerprint_audit_refuse"}
_REFUSE = f"RAISE EXCEPTION '{MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'"
_POSTGRES_REFUSE = f"""
    CREATE OR REPLACE FUNCTION answerprint_audit_refuse() RETURNS trigger AS $$
    BEGIN
        {_REFUSE};
    END;
    $$ LANGUAGE plpgsql
    """


def _content_columns(connection):
    """Every column of the event table but the ones sealing fills: read from the table at install
    time, so the guard covers columns added later once it is installed again (as a migration that
    adds one must; `missing_protections` notices a column the guard does not cover)."""
    with connection.cursor() as cursor:
        columns = [column.name for column in connection.introspection.get_table_description(cursor, TABLE)]
    return [column for column in columns if column not in SEAL_COLUMNS]


def _postgres_seal_only(connection):
    # An explicit row comparison: comparing to_jsonb(NEW) with to_jsonb(OLD) cost more than the
    # seal's own UPDATE.
    columns = _content_columns(connection)
    new = ", ".join(f"NEW.{column}" for column in columns)
    old = ", ".join(f"OLD.{column}" for column in columns)
    return f"""
    CREATE OR REPLACE FUNCTION answerprint_audit_seal_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.hash IS NULL
           AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.sequence IS NOT NULL
           AND ROW({new}) IS NOT DISTINCT FROM ROW({old}) THEN
            RETURN NEW;
        END IF;
        {_REFUSE};
    END;
    $$ LANGUAGE plpgsql
    """


def _postgres_install(table):
    row, truncate, _, _ = _TRIGGERS[table]
    return [
        f"CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {_POSTGRES_ROW_FUNCTION[table]}()",
        f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION answerprint_audit_refuse()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {row}",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {truncate}",
    ]


def _postgres_remove(table):
    row, truncate, _, _ = _TRIGGERS[table]
    return [f"DROP TRIGGER IF EXISTS {row} ON {table}", f"DROP TRIGGER IF EXISTS {truncate} ON {table}"]


def _sqlite_update_refused_when(connection, table):
    if table != TABLE:
        return ""
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in _content_columns(connection))
    unsealed = " OR ".join(f"NEW.{column} IS NULL" for column in SEAL_COLUMNS)
    return f"WHEN OLD.hash IS NOT NULL OR {unsealed} OR {changed} "


def _sqlite_install(connection, table):
    _, _, update, delete = _TRIGGERS[table]
    return [
        f"CREATE TRIGGER IF NOT EXISTS {update} BEFORE UPDATE ON {table} {_sqlite_update_refused_when(connection, table)}"
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
        statements = [_POSTGRES_REFUSE] + ([_postgres_seal_only(connection)] if TABLE in tables else [])
        for table in tables:
            statements += _postgres_remove(table) + _postgres_install(table)
    else:
        statements = [statement for table in tables
                      for statement in _sqlite_remove(table) + _sqlite_install(connection, table)]
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
                    "SELECT tgname, tgenabled, tgfoid::regproc::text FROM pg_trigger "
                    "WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal",
                    [table],
                )
                found = {name: (enabled, function) for name, enabled, function in cursor.fetchall()}
                expected_function = {row: _POSTGRES_ROW_FUNCTION[table], truncate: "answerprint_audit_refuse"}
                for name in (row, truncate):
                    if name not in found:
                        missing.append(f"trigger {name} on {table} is missing")
                    elif found[name][0] != "A":  # 'A' = ALWAYS: fires even under session_replication_role=replica
                        missing.append(f"trigger {name} on {table} is not ENABLE ALWAYS")
                    elif found[name][1] != expected_function[name]:
                        missing.append(f"trigger {name} on {table} runs {found[name][1]}, "
                                       f"not {expected_function[name]}")
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
                found = {r[0] for r in cursor.fetchall()}
                missing += [f"trigger {name} on {table} is missing" for name in (update, delete) if name not in found]
    from .sealing import missing as missing_sealing

    return missing + _unguarded_columns(connection) + missing_sealing(connection)


def _unguarded_columns(connection):
    """Event columns the UPDATE guard does not compare (a column added without reinstalling it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'answerprint_audit_seal_only'")
            row = cursor.fetchone()
        source = row[0] if row else ""
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [_TRIGGERS[TABLE][2]])
            row = cursor.fetchone()
        source = row[0] if row else ""
    if not source:
        return []  # reported as a missing trigger above
    return [f"the update guard on {TABLE} does not cover column {column}: install the protections again"
            for column in _content_columns(connection) if not re.search(rf"\bNEW\.{column}\b", source)]
