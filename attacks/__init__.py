"""Adversarial attacks (FGSM and its relatives) and their metrics.

Built only on :mod:`minigrad`'s public API. Not written yet: see the attacks issue.
"""
