"""The grader: the student's functions against the checks the library's own implementation passes.

For each exercise, :mod:`attacks.exercises.engine_checks` or
:mod:`attacks.exercises.attack_checks` lists its checks, in order: hypothesis property
tests against float64 finite differences, closed forms, agreement with the library on
random inputs, and for the attacks the L-infinity bound, the valid range and the effect
on a trained model. The first check that fails decides the exercise; hypothesis
shrinks its input to the smallest one it can find, and the report shows that input,
what was expected and what came. A student's exception is reported in one line: its
type, its message, and where in the student's file it was raised. Nothing prints a
traceback.

An exercise whose checks all pass may end with a *report* (what the student's code did
inside the real engine, such as the error of a model trained with the student's loss).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .catalog import EXERCISES, Exercise

#: Printed when hypothesis is missing: the grader's property tests need it.
NEEDS_HYPOTHESIS = ("advex exercises check needs hypothesis, which the test extra installs: "
                    "pip install -e \".[test]\" in a clone (or pip install hypothesis)")
#: Seconds an exercise may take before the grader stops it (a student's endless loop).
TIME_LIMIT = 120


class NeedsHypothesis(Exception):
    """Grading was asked for without hypothesis installed; the message says how to install it."""


class Mismatch(Exception):
    """A check's failure: what was checked, at which inputs, what was expected and what came."""

    def __init__(self, what: str, inputs: dict, expected=None, came=None, *, note: str = ""):
        super().__init__(what)
        self.what, self.inputs, self.expected, self.came, self.note = what, inputs, expected, came, note


class StudentError(Exception):
    """An exception raised by the student's code (or by the engine refusing what it returned), with the inputs."""


    def __init__(self, error: BaseException, inputs: dict):
        super().__init__(str(error))
        self.error, self.inputs = error, inputs


@dataclass(frozen=True)
class Check:
    """One property of an exercise's functions.

    ``run(student, example)`` raises :class:`Mismatch` when the property fails. ``examples``
    is a hypothesis strategy drawing ``example`` dicts (name -> value, shown on a failure),
    or None for a check with one fixed case (a closed form), run once with ``{}``.
    ``cases``: examples always tried as well, the ones a random draw might miss (after the draws, whose
    failures hypothesis shrinks to the smallest input).
    """

    name: str
    run: Callable
    examples: object = None
    max_examples: int = 40
    cases: tuple = ()


@dataclass
class Grade:
    """An exercise's outcome: passed or not, and the lines that explain it."""

    exercise: Exercise
    passed: bool
    lines: list = field(default_factory=list)

    def text(self) -> str:
        head = f"{self.exercise.number:2d} {'pass' if self.passed else 'fail'}  {self.exercise.title}"
        return "\n".join([head] + [f"     {line}" for line in self.lines])


class LoadError(Exception):
    """The student's file could not be read or imported; the message is one line."""


def load_student(path) -> object:
    """The student's file imported as a module of its own, or a :class:`LoadError` in one line."""
    if not os.path.isfile(path):
        raise LoadError(f"no file {path}: advex exercises start {os.path.dirname(path) or '.'} writes the stubs")
    name = "advex_student_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        with quiet():
            spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LoadError(f"{os.path.basename(path)}, line {error.lineno}: SyntaxError: {error.msg}") from None
    except (Exception, SystemExit) as error:  # an import error, a NameError at the top level: the student's, in one line
        raise LoadError(f"importing it raised {describe_error(error, path)}") from None
    return module


@contextlib.contextmanager
def quiet():
    """The student's code run without its prints (a check calls it on many inputs) and without NumPy's
    warnings (a NaN or inf shows in the report instead)."""
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class TimeLimit(BaseException):
    """An exercise ran longer than :data:`TIME_LIMIT`. A BaseException, like KeyboardInterrupt, so that
    hypothesis stops at once instead of taking it for a failure to shrink (calling the endless loop again)."""


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise :class:`TimeLimit` in the code inside after ``seconds`` (where the platform has SIGALRM and this is
    the main thread; elsewhere there is no limit)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise TimeLimit(f"stopped after {seconds} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def describe_error(error: BaseException, student_file: str) -> str:
    """``Type: message (file, line N, in function)``, at the deepest frame of the student's file; else the message alone.

    A ``NotImplementedError`` from the student's file is a function not written yet.
    """
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _same_file(f.filename, student_file)]
    message = " ".join(str(error).split()) or "(no message)"
    if not frames:
        return f"{type(error).__name__}: {message}"
    frame = frames[-1]
    where = f"{os.path.basename(frame.filename)}, line {frame.lineno}, in {frame.name}"
    if isinstance(error, NotImplementedError):
        return f"not written yet: {frame.name} raises NotImplementedError ({where})"
    return f"{type(error).__name__}: {message} ({where})"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def grade(exercise: Exercise, student, student_file: str, *, verbose: bool = False) -> Grade:
    """Run ``exercise``'s checks against ``student`` (a module, or any object with its functions);
    ``verbose`` lists, under a pass, every check it passed."""
    from . import attack_checks, engine_checks

    source = engine_checks if exercise.number in engine_checks.CHECKS else attack_checks
    missing = [name for name in exercise.functions if not callable(getattr(student, name, None))]
    if missing:
        return Grade(exercise, False, [f"{os.path.basename(student_file)} defines no function {', '.join(missing)}"])
    passed = []
    try:
        with time_limit(TIME_LIMIT):
            for check in source.CHECKS[exercise.number]():
                failure = run_check(check, student)
                if failure is not None:
                    return Grade(exercise, False, explain(check, failure, student_file))
                passed.append(f"ok  {check.name}")
            passed = passed if verbose else []
            report = source.REPORTS.get(exercise.number)
            if report is None:
                return Grade(exercise, True, passed)
            with quiet():
                return Grade(exercise, True, passed + [report(student)])
    except TimeLimit as error:
        return Grade(exercise, False, [str(error)])
    except Mismatch as failure:
        return Grade(exercise, False, explain(Check("inside the real engine", None), failure, student_file))
    except (Exception, SystemExit) as error:  # the student's code failed inside the real engine
        return Grade(exercise, False, ["inside the real engine:", describe_error(error, student_file)])


def run_check(check: Check, student):
    """None if ``check`` holds for ``student``; else the :class:`Mismatch` or :class:`StudentError` of the smallest failing example."""
    from hypothesis.errors import Flaky

    def once(example):
        try:
            with quiet():
                check.run(student, example)
        except Mismatch:
            raise
        except (Exception, SystemExit) as error:  # SystemExit too: a student's exit() must not end the grading
            raise StudentError(error, example) from error

    try:
        if check.examples is None:
            once({})
        else:
            try:
                _property(check, once, shrink=False)()
            except StudentError as failure:
                if isinstance(failure.error, NotImplementedError):  # a stub: no input to shrink toward
                    raise
                _property(check, once, shrink=True)()  # again, to find the smallest failing input
            except Mismatch:
                _property(check, once, shrink=True)()
    except (Mismatch, StudentError) as failure:
        failure.smallest = check.examples is not None
        return failure
    except Flaky:
        return StudentError(RuntimeError("your function gave different answers for the same input: does it keep "
                                         "state between calls, or draw random numbers other than from the rng it is "
                                         "given?"), {})
    for case in check.cases:
        try:
            once(case)
        except (Mismatch, StudentError) as failure:
            failure.smallest = False
            return failure
    return None


def _property(check: Check, once, *, shrink: bool):
    """``once`` as a hypothesis test over ``check.examples``: deterministic, silent, no database written;
    ``shrink`` searches for the smallest failing example once one is found."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings

    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    test = given(check.examples)(once)
    return settings(max_examples=check.max_examples, derandomize=True, database=None, deadline=None, phases=phases,
                    verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False,
                    suppress_health_check=list(HealthCheck))(test)


def explain(check: Check, failure, student_file: str) -> list:
    """The lines under a failed exercise: the check, what failed, the input, what was expected and what came
    (or the student's error, in one line)."""
    at = "at the smallest input found:" if getattr(failure, "smallest", False) else "at:"
    lines = [f"{check.name}:"]
    if isinstance(failure, StudentError):
        lines.append(describe_error(failure.error, student_file))
        if not isinstance(failure.error, NotImplementedError) and failure.inputs:
            lines += [at] + _shown(failure.inputs)
        return lines
    lines.append(failure.what)
    if failure.inputs:
        lines += [at] + _shown(failure.inputs)
    lines += _shown({name: value for name, value in (("expected", failure.expected), ("came", failure.came))
                     if value is not None})
    if failure.note:
        lines.append(failure.note)
    return lines


def _shown(values: dict) -> list:
    """``name = value`` lines, arrays printed compactly with their shape and dtype (names starting with _ are the
    check's own bookkeeping, not shown)."""
    lines = []
    for name, value in values.items():
        if name.startswith("_"):
            continue
        text = show(value)
        first, *rest = text.split("\n")
        lines.append(f"  {name} = {first}")
        lines += [f"  {' ' * len(name)}   {line}" for line in rest]
    return lines


def show(value) -> str:
    """A value as the report prints it: an array with its shape and dtype, a string as it is, anything else by repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        body = np.array2string(value, precision=5, separator=", ", threshold=40, edgeitems=3, max_line_width=90,
                               suppress_small=False)
        return f"{body}   (shape {value.shape}, {value.dtype})" if value.ndim else f"{body} ({value.dtype})"
    return repr(value)


def check(numbers=None, folder: str = ".", *, solutions: bool = False, verbose: bool = False, out=print) -> bool:
    """Grade the exercises numbered ``numbers`` (default: all) in ``folder``, printing a block per exercise.

    ``solutions=True`` grades the library's own implementations instead
    (:mod:`attacks.exercises.solutions`); ``verbose`` lists the checks each pass passed.
    Returns True when every exercise graded passed. The folder is on ``sys.path`` while it
    is graded (a student's file may import another of theirs); no ``__pycache__`` is
    written into it, and hypothesis keeps its files in a temporary folder, not the current one.
    """
    try:
        from hypothesis import configuration
    except ImportError:
        raise NeedsHypothesis(NEEDS_HYPOTHESIS) from None
    chosen = [e for e in EXERCISES if numbers is None or e.number in numbers]
    folder = os.path.abspath(folder)
    home, writes_bytecode = configuration.storage_directory(), sys.dont_write_bytecode
    home = getattr(home, "path", home)  # a StorageDirectory in recent versions, a Path in older ones
    sys.path.insert(0, folder)
    sys.dont_write_bytecode = True
    all_passed = True
    try:
        with tempfile.TemporaryDirectory(prefix="advex-exercises-") as scratch:
            configuration.set_hypothesis_home_dir(scratch)
            for e in chosen:
                result = _grade_one(e, folder, solutions, verbose)
                out(result.text())
                all_passed &= result.passed
    finally:
        configuration.set_hypothesis_home_dir(home)
        sys.path.remove(folder)
        sys.dont_write_bytecode = writes_bytecode
        for e in EXERCISES:
            sys.modules.pop(e.module, None)  # a student's module one of their files imported
    return all_passed


def _grade_one(e: Exercise, folder: str, solutions: bool, verbose: bool) -> Grade:
    if solutions:
        from . import solutions as library
        return grade(e, library, library.__file__, verbose=verbose)
    path = os.path.join(folder, e.filename)
    try:
        return grade(e, load_student(path), path, verbose=verbose)
    except LoadError as error:
        return Grade(e, False, [str(error)])
    finally:
        sys.modules.pop("advex_student_" + e.module, None)
