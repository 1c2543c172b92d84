"""The PostgreSQL record (record.py) and this process's read model of it (replica.py), as the operations, the
demo and the tests reach them. Everything else opens a record through kdash.store.db.connect."""

from kdash.store.record import (AUDIT, DERIVED, LOCAL_META, SCHEMES, WHOLE, RecordCursor, RecordError,  # noqa: F401
                                _adbc, _password, check_url, connect_record, ensure_schema, has_schema, is_url,
                                patient_tables, record_tables, translate)
from kdash.store.replica import (BULK_PATIENTS, PRUNE_EVERY, Replica, close, discard_models,  # noqa: F401
                                 open_replica, prune_changes, replica_of, sweep_orphans, write)
