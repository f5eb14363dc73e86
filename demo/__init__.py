"""Demo data: a realistic year of CRM history, recorded through the command layer.

`history` plans it (Faker ``zh_CN`` identities, vocabulary from the background
articles, a funnel with realistic drop-off), `runner` sends it through
`CommandService.handle_many` in batches, `command` is the body of `crm seed`.

Demo data, kept apart from the runtime: it may import `commands`, `aggregates`, `ops`
(settings, keys, the data-dir lock) and `bootstrap`. Only the `crm seed` verb (imported
inside the command), the benchmarks and the tests import it.
"""
