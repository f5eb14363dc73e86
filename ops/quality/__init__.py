"""Data quality: Great Expectations suites over the read models and analytics views.

`store` reads the facts the checks compare against from the event store itself (live
customers, each customer's purchase total); `frames` loads what is checked as pandas
frames (PostgreSQL read models, DuckDB catalog views); `suites` declares every
expectation by name; `runner` validates the frames with Great Expectations, keeps the
results and writes the data docs (`crm check`).
"""
