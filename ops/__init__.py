"""The runtime's process shell: the `crm` command line (`cli`, thin verbs in `verbs/`),
configuration and secrets, embedded servers, process supervision (`supervisor`,
`stack`), data-quality suites.

May import every package of the platform and `bootstrap` (the composition root builds
the parts; `ops` resolves the settings and starts the processes). Developer tooling
lives elsewhere: benchmarks in `bench/`, demo data in `demo/`; the `crm bench` and
`crm seed` verbs import them inside the command only.
"""
