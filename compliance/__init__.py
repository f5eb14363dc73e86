"""What compliance staff use: the audit trail and the proofs and requests built on it.

Lives here (`crm audit …` and the GraphQL audit fields call into it):

- `audit`: replay a customer's history and its state as of any moment, straight from
  the event store (complaints found through the ``crm_stream_subjects`` index);
- `trail`: a page of that history as GraphQL ``auditTrail`` shows it;
- `corruption`: reading past damaged stored values and naming them;
- `verify`, `checkpoint`: verify the hash chain, and anchor its head outside the database;
- `export`: the data-subject export; `erasure`, `needles`, `readmodels`, `analytics`,
  `residue`: erasure that reaches every copy, and the searches that prove it;
- `access_log`: who read whose personal data (written by the gateway and the CLI);
- `render`: how the command line prints all of the above.

What stays in `commands/`: only what the write transaction needs (the chain's encoding,
DDL and append in `commands.chain`, the stream-subject index, the access log's table in
`commands.access_table`).

May import: events, aggregates, commands, projections, streams. Never gateway or ops
(they import this package: the gateway for its audit resolvers and access log, ops for
the `crm audit` verbs and the audit benchmark).
"""
