"""Evaluations: a procedure's dataset of cases, the evaluators that score each run, and the
thresholds a whole evaluation must meet (``tide eval``)."""
