"""`python -m ops ...` is the same as `crm ...`."""

from ops.cli import main

main()
