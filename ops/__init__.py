"""Composition roots outside the core `cases/`: the `healthpass` command line (`ops/cli.py`) and
`healthpass serve`'s process supervisor (`ops/supervisor.py`)."""
