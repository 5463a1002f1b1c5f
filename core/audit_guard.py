"""Database triggers that make the audit table append-only (UPDATE, DELETE, TRUNCATE raise).

Installed by migration core.0003. `manage.py flush` (a full wipe, used by transactional tests)
lifts them for its own duration only; see core/management/commands/flush.py.
"""

from __future__ import annotations

from typing import Any

POSTGRES_INSTALL = """
CREATE OR REPLACE FUNCTION core_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change();
CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change();
CREATE TRIGGER core_auditevent_no_truncate BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION core_auditevent_refuse_change();
"""
POSTGRES_REMOVE = """
DROP TRIGGER IF EXISTS core_auditevent_no_update ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditevent_no_delete ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;
DROP FUNCTION IF EXISTS core_auditevent_refuse_change();
"""
SQLITE_INSTALL = [
    """CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only (UPDATE refused)'); END;""",
    """CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only (DELETE refused)'); END;""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS core_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS core_auditevent_no_delete;",
]


def _run(executor: Any, vendor: str, postgres: str, sqlite: list[str]) -> None:
    if vendor == "postgresql":
        # params=None: the plpgsql body contains '%', which must not be read as a placeholder.
        executor(postgres, None)
    elif vendor == "sqlite":
        for statement in sqlite:
            executor(statement, None)


def install(executor: Any, vendor: str) -> None:
    _run(executor, vendor, POSTGRES_INSTALL, SQLITE_INSTALL)


def remove(executor: Any, vendor: str) -> None:
    _run(executor, vendor, POSTGRES_REMOVE, SQLITE_REMOVE)
