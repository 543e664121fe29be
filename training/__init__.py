"""Data loading, optimizers, the training loop and adversarial training.

Built only on :mod:`minigrad`'s public API. Not written yet: see the models issue.
"""
