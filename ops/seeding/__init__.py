"""Demo data: a realistic year of CRM history, recorded through the command layer.

`history` plans it (Faker ``zh_CN`` identities, vocabulary from the background
articles, a funnel with realistic drop-off), `runner` sends it through
`CommandService.handle_many` in batches, `command` is the body of `crm seed`.
"""
