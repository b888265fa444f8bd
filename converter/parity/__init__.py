"""Parity: the inputs every artifact is run on, how outputs are compared, the
gates they must pass, and the report. Nothing here knows about runtimes: it
sees only reference arrays and artifact arrays."""
