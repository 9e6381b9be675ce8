"""Runners of the stage kinds that have a module of their own (see r1web.runs.registry)."""
