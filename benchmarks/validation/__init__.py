"""Validation benchmark: a Brian 2 problem with an exact posterior, and measured defaults.

``python -m benchmarks.validation`` runs the benchmark (see :mod:`.run`);
``python -m benchmarks.validation.profile_training`` profiles where training time goes.
"""
