"""The walkthrough runs on its own: ``python -m doctest docs/walkthrough.md``, no conftest, no MNIST."""

import pathlib
import subprocess
import sys

WALKTHROUGH = pathlib.Path(__file__).resolve().parent.parent / "docs" / "walkthrough.md"


def test_the_walkthrough_runs_under_plain_doctest(tmp_path):
    done = subprocess.run([sys.executable, "-m", "doctest", str(WALKTHROUGH)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (WALKTHROUGH.parent / "conftest.py").exists()  # nothing the suite adds that a reader lacks
