"""The public ledger on the server: what goes in (entries.py), the log kept in the
database (log.py), what follows committed events (reaction in log.py) and the public
endpoints (routes.py). The tree and the notes themselves are in the pure package tlog/."""
