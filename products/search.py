"""Substring search of titles, handles and SKUs on SQLite, from FTS5 trigram indexes.

PostgreSQL answers ``icontains`` from its pg_trgm indexes (migration 0002). SQLite has no index
for ``LIKE '%…%'`` and read every product and variant (~110–180 ms at 100,000 products × 3
variants); an FTS5 table with the trigram tokenizer finds the same rows from an index.

* ``products_product_search`` (title, handle, sku) and ``products_variant_search`` (sku) are
  external-content FTS5 tables over ``products_product`` / ``products_variant`` (rowid = id), kept
  up to date by triggers: every writer, ORM or raw SQL, updates them in its own transaction.
* ``ensure_sqlite_search`` runs after every ``migrate`` (``post_migrate``), because SQLite drops
  a table's triggers when Django rebuilds the table for an ALTER; it (re)creates what is missing
  and then rebuilds the index from the tables.
* A term of fewer than 3 characters has no trigram: the filter keeps ``icontains`` for it. An SQLite
  built without FTS5 gets no tables and the filter keeps ``icontains`` too.

Matching differs from SQLite's ``LIKE`` only in being case-insensitive beyond ASCII too.
"""

from django.db import OperationalError

PRODUCT_TABLE = "products_product_search"
VARIANT_TABLE = "products_variant_search"
MIN_TERM = 3

_TABLES = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {PRODUCT_TABLE} USING fts5(title, handle, sku, "
    "content='products_product', content_rowid='id', tokenize='trigram')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {VARIANT_TABLE} USING fts5(sku, "
    "content='products_variant', content_rowid='id', tokenize='trigram')",
]
# The FTS5 'delete' command takes the values that were indexed: the old row's.
_TRIGGERS = {
    "products_product_search_insert": f"""
        CREATE TRIGGER products_product_search_insert AFTER INSERT ON products_product BEGIN
            INSERT INTO {PRODUCT_TABLE}(rowid, title, handle, sku) VALUES (new.id, new.title, new.handle, new.sku);
        END""",
    "products_product_search_delete": f"""
        CREATE TRIGGER products_product_search_delete AFTER DELETE ON products_product BEGIN
            INSERT INTO {PRODUCT_TABLE}({PRODUCT_TABLE}, rowid, title, handle, sku)
            VALUES ('delete', old.id, old.title, old.handle, old.sku);
        END""",
    "products_product_search_update": f"""
        CREATE TRIGGER products_product_search_update AFTER UPDATE OF title, handle, sku ON products_product BEGIN
            INSERT INTO {PRODUCT_TABLE}({PRODUCT_TABLE}, rowid, title, handle, sku)
            VALUES ('delete', old.id, old.title, old.handle, old.sku);
            INSERT INTO {PRODUCT_TABLE}(rowid, title, handle, sku) VALUES (new.id, new.title, new.handle, new.sku);
        END""",
    "products_variant_search_insert": f"""
        CREATE TRIGGER products_variant_search_insert AFTER INSERT ON products_variant BEGIN
            INSERT INTO {VARIANT_TABLE}(rowid, sku) VALUES (new.id, new.sku);
        END""",
    "products_variant_search_delete": f"""
        CREATE TRIGGER products_variant_search_delete AFTER DELETE ON products_variant BEGIN
            INSERT INTO {VARIANT_TABLE}({VARIANT_TABLE}, rowid, sku) VALUES ('delete', old.id, old.sku);
        END""",
    "products_variant_search_update": f"""
        CREATE TRIGGER products_variant_search_update AFTER UPDATE OF sku ON products_variant BEGIN
            INSERT INTO {VARIANT_TABLE}({VARIANT_TABLE}, rowid, sku) VALUES ('delete', old.id, old.sku);
            INSERT INTO {VARIANT_TABLE}(rowid, sku) VALUES (new.id, new.sku);
        END""",
}

#: Database NAME → whether its search tables exist (checked once per process and database).
_ready: dict[str, bool] = {}


def ensure_sqlite_search(connection) -> bool:
    """Create the search tables and triggers that are missing and, if any were, rebuild the index from the
    tables. Returns whether the search is ready (False on PostgreSQL, or an SQLite without FTS5)."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        existing = {row[0] for row in cursor.fetchall()}
        if "products_product" not in existing or "products_variant" not in existing:
            return False  # migrated backwards past products' first migration
        missing = [name for name in (PRODUCT_TABLE, VARIANT_TABLE, *_TRIGGERS) if name not in existing]
        if missing:
            try:
                for sql in _TABLES:
                    cursor.execute(sql)
            except OperationalError:  # no fts5 module or no trigram tokenizer (SQLite < 3.34)
                _ready[connection.settings_dict["NAME"]] = False
                return False
            for name, sql in _TRIGGERS.items():
                if name not in existing:
                    cursor.execute(sql)
            for table in (PRODUCT_TABLE, VARIANT_TABLE):
                cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
    _ready[connection.settings_dict["NAME"]] = True
    return True


def sqlite_search_ready(connection) -> bool:
    """Whether ``connection`` is SQLite with the search tables (looked up once per database)."""
    if connection.vendor != "sqlite":
        return False
    name = connection.settings_dict["NAME"]
    if name not in _ready:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name IN (%s, %s)", [PRODUCT_TABLE, VARIANT_TABLE])
            _ready[name] = cursor.fetchone()[0] == 2
    return _ready[name]


def phrase(term: str) -> str:
    """``term`` as an FTS5 phrase: matched as one substring, its characters taken literally."""
    return '"' + term.replace('"', '""') + '"'


def drop_sqlite_search(connection) -> None:
    """Remove the triggers and tables (the migration's reverse)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in _TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for table in (PRODUCT_TABLE, VARIANT_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    _ready.pop(connection.settings_dict["NAME"], None)
