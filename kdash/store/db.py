"""The store, as every floor above sees it: open it, read through cursors and named queries, write in one
transaction. The modules beside this one do each part; this is their one interface.

A path is an embedded DuckDB store (files.py). A postgresql:// URL is the clinic network's record, read through
a DuckDB model in this process (replica.py); `connect` returns a DuckDB connection either way, and `transaction`
writes to whichever store it is."""

from kdash.store.connection import (close, connect, fresh, is_demo, on_change, record_row,  # noqa: F401
                                    transaction, write)
from kdash.store.errors import StoreError  # noqa: F401
from kdash.store.files import _CONFIG, exposure, owner_only, private_files  # noqa: F401
from kdash.store.queries import _INCLUDE, Shared, bind, parallel, query, sql  # noqa: F401
from kdash.store.reads import meta, row, scalar  # noqa: F401
from kdash.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version  # noqa: F401
from kdash.store.writer import _WRITER, is_record, local_transaction, stage, unstage  # noqa: F401
