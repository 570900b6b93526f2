"""Shared test set-up: the base config, one core rig, clients of the fakes, named queries."""
