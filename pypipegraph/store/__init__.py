"""The status store: one SQLite file per project directory with each job's last record.

`writer.History` is the run's writer (one run at a time, under `lock`), `reader.StoreReader`
the lock-free read-only view the `ppg` commands and reports use; `format` is the schema and
the one record encoding, `values` the MessagePack values with signed Python values (`key`),
`run_graph` the job graph kept per run, `cache_files` the check of pickles against records.
"""

DEFAULT_PATH = ".pypipegraph_status_robust"  # the store's file in the project directory

__all__ = ["DEFAULT_PATH"]
