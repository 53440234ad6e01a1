"""The parts of a training run that core/trainer.py's TrainingRun puts together.

`data` tokenises and encodes the splits, `clock` keeps the run's time and its budget, `weights`
holds the optimiser, the learning-rate schedule and weight averaging, `validation` reads the
held-out split and fits song memory within bounds, `sizing` chooses a model for a corpus, a
time budget and this machine.
"""
