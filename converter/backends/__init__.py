"""Runtime runners, one folder per runtime: each holds what it takes to load
an artifact into that runtime and run it behind `base.Runner`."""
