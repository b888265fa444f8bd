"""Runtime runners, one folder per runtime: each holds what it takes to load
an artifact into that runtime and run it behind `base.Runner`.

`registry.RUNTIMES` is the registry output targets name their verifying
runtimes from. This package's own module imports nothing, so a runner's
helpers (priority, the Node host) import without the registry.
"""
