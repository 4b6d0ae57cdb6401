"""Training loop machinery: strategies, precision, schedules, callbacks, checkpoints."""
