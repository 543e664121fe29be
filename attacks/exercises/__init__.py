"""Homework: the lecture as exercises that the project's own checks grade (``advex exercises``).

Twelve exercises, in the lecture's order, from the VJP of ``exp`` to PGD: each is a
stub file of functions for the student to complete (:mod:`attacks.exercises.catalog`),
graded by the checks that the library's own implementation passes
(:mod:`attacks.exercises.grader`): hypothesis property tests against float64 finite
differences, closed forms, agreement with the library on random inputs, and for the
attacks the L-infinity bound, the valid range and the effect on a trained model. A
student's VJP is recorded through :meth:`minigrad.Tensor.from_op`, so it runs inside
the real engine and trains real models.

    advex exercises                       the exercises, one line each
    advex exercises start DIR             the stubs, into DIR (a changed file is never overwritten)
    advex exercises check [N ...] [--dir DIR]
                                          grade the student's files (default: all, in .)
    advex exercises check --solutions     grade the library's own implementations

``docs/exercises.md`` is the teachers' page. The grader needs hypothesis (the test extra);
listing and starting do not.
"""

from .catalog import EXERCISES, Exercise, exercise, listing, start

__all__ = ["EXERCISES", "Exercise", "exercise", "listing", "start"]
