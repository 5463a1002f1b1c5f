"""Database triggers that make a signed board decision immutable (UPDATE and DELETE raise).

Installed by migration oncology.0003. Draft rows stay editable. On PostgreSQL `manage.py flush`
empties tables with TRUNCATE, which row triggers do not see; on SQLite flush deletes rows, so
core's flush command lifts these triggers for its own duration, like the audit ones.
"""

from __future__ import annotations

from typing import Any

TABLE = "oncology_boarddecision"

POSTGRES_INSTALL = f"""
CREATE OR REPLACE FUNCTION oncology_boarddecision_refuse_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION
            'a signed board decision is immutable (% refused): amend it', TG_OP;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER oncology_boarddecision_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION oncology_boarddecision_refuse_change();
CREATE TRIGGER oncology_boarddecision_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION oncology_boarddecision_refuse_change();
"""
POSTGRES_REMOVE = f"""
DROP TRIGGER IF EXISTS oncology_boarddecision_no_update ON {TABLE};
DROP TRIGGER IF EXISTS oncology_boarddecision_no_delete ON {TABLE};
DROP FUNCTION IF EXISTS oncology_boarddecision_refuse_change();
"""
SQLITE_INSTALL = [
    f"""CREATE TRIGGER oncology_boarddecision_no_update BEFORE UPDATE ON {TABLE}
       WHEN OLD.status = 'signed'
       BEGIN SELECT RAISE(ABORT, 'a signed board decision is immutable (UPDATE refused)'); END;""",
    f"""CREATE TRIGGER oncology_boarddecision_no_delete BEFORE DELETE ON {TABLE}
       WHEN OLD.status = 'signed'
       BEGIN SELECT RAISE(ABORT, 'a signed board decision is immutable (DELETE refused)'); END;""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS oncology_boarddecision_no_update;",
    "DROP TRIGGER IF EXISTS oncology_boarddecision_no_delete;",
]


def _run(executor: Any, vendor: str, postgres: str, sqlite: list[str]) -> None:
    if vendor == "postgresql":
        executor(postgres, None)  # params=None: '%' in the body is not a placeholder
    elif vendor == "sqlite":
        for statement in sqlite:
            executor(statement, None)


def install(executor: Any, vendor: str) -> None:
    _run(executor, vendor, POSTGRES_INSTALL, SQLITE_INSTALL)


def remove(executor: Any, vendor: str) -> None:
    _run(executor, vendor, POSTGRES_REMOVE, SQLITE_REMOVE)
