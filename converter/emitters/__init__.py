"""Emitters: the canonical model in, deployable artifacts out."""
