"""The run store: every training run and its epochs, in one SQLite file per user.

`store.py` the store (RunStore, open_store), `schema.py` its tables and migrations,
`records.py` the rows as dataclasses, `recorder.py` what records a TrainingRun's events,
`liveness.py` how a live writer is told from a dead one, `location.py` where the file lives,
`compare.py` sorting and comparing runs a view already holds.
"""
