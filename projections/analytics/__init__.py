"""Analytics projections: every event, flattened, plus the customer dimension, as Parquet
files under ``DATA_DIR/analytics/``, and a DuckDB catalog file of views over them.

Why files and not a DuckDB database the worker writes into: DuckDB lets one process
write a database file and no other process open it meanwhile, while analysts must be
able to open the catalog (read-only, with the DuckDB CLI or Python) while the platform
runs. So the worker only ever writes Parquet (temp name, then an atomic rename), and the
catalog holds nothing but views and macros over ``read_parquet`` globs; it is rewritten
(to a temp file, then renamed) only when the view definitions change. A connection
opened once keeps seeing new events, because each query re-reads the globs.

Layout (``layout.AnalyticsLayout``): one folder per dataset, each holding
``compact.parquet`` (deduplicated, rewritten by compaction) and ``part-*.parquet``
(one per micro-batch). Keyed datasets (`events`, `purchases`, `merges`) are read as
"compact rows whose key no part has, plus the parts deduplicated", snapshot datasets
(`customers`, `complaints`) as "the row with the highest last_position per key", so
at-least-once delivery never shows an event twice (see `catalog`).

No personal data: every event's `PERSONAL` fields are dropped before anything is
written (ids only), so forgetting a customer needs no rewrite here.

Modules: `layout` (where files live), `schema` (Arrow schemas), `flatten` (envelope to
rows), `dimension` (customer and complaint state folded from events), `parquet`
(atomic parts, compaction), `writer` (a batch of envelopes to files: the worker's
sink), `catalog` (the DuckDB views and macros), `sql` (literals for view text),
`report` (HTML report). Elsewhere: `streams.analytics_rebuild` (replay the event store
into the files), `ops.quality` (`crm check`), `bench.analytics_bench`.
"""
