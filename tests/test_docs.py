"""The walkthrough runs on its own (``python -m doctest docs/walkthrough.md``, no conftest, no MNIST); the README's figures are committed."""

import pathlib
import re
import subprocess
import sys

WALKTHROUGH = pathlib.Path(__file__).resolve().parent.parent / "docs" / "walkthrough.md"


def test_the_walkthrough_runs_under_plain_doctest(tmp_path):
    done = subprocess.run([sys.executable, "-m", "doctest", str(WALKTHROUGH)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (WALKTHROUGH.parent / "conftest.py").exists()  # nothing the suite adds that a reader lacks


def test_every_walkthrough_step_names_source_files_that_exist():
    root = WALKTHROUGH.parent.parent
    sections = WALKTHROUGH.read_text().split("\n## ")[1:]
    assert len(sections) >= 10
    for section in sections:
        title = section.splitlines()[0]
        where = [line for line in section.splitlines() if line.startswith("Where it lives:")]
        assert where, f"step {title!r} does not say where its code lives"
        files = [token for token in where[0].split("`")[1::2] if token.endswith(".py")]  # the `quoted` file names
        assert files and all((root / f).is_file() for f in files), (title, files)


def test_every_image_the_readme_shows_is_committed():
    root = WALKTHROUGH.parent.parent
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (root / "README.md").read_text())
    assert images, "the README shows no figure"
    for image in images:
        path = root / image
        assert path.is_file() and path.stat().st_size < 200_000, f"README shows {image}: missing or over 200 kB"
