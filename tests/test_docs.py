"""The README and the pages under docs/ are true to the code and to each other.

* Every page with Python code runs as a doctest, as the suite collects it (``--doctest-glob=*.md``
  in setup.cfg), here in a process of its own without MNIST, so that running this file alone checks
  them all; the walkthrough also runs under plain ``python -m doctest``, as a reader would run it.
* No Python example escapes that: every ```python block is a doctest.
* Every relative link and figure points to a committed file, and a link's ``#anchor`` to a heading of it.
* The README stays the front door: at most 250 lines, CI's install and test commands, the reading path.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WALKTHROUGH = ROOT / "docs" / "walkthrough.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def page_id(page: pathlib.Path) -> str:
    return str(page.relative_to(ROOT))


def without_code(text: str) -> str:
    """The page's prose: fenced blocks and `inline code` removed (a link inside code is no link)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def heading_anchors(page: pathlib.Path) -> set:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces to '-',
    a repeated one suffixed -1, -2, ..."""
    anchors, seen = set(), {}
    for heading in re.findall(r"^#+\s+(.+?)\s*#*$", FENCE.sub("", page.read_text()), re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def relative_links(page: pathlib.Path):
    """``(target, file, anchor)`` of every link and image of the page that is not a URL."""
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        yield target, (page.parent / path).resolve() if path else page, anchor


# ---------------------------------------------------------------------------- the code runs


def without_data(tmp_path) -> dict:
    """The environment without MNIST or CIFAR-10: no data variable, an empty cache (a page that reached for
    the data would fail, as it would for a reader who has none)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MINIGRAD_DATA", "MINIGRAD_CIFAR10")}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    return env


@pytest.mark.parametrize("page", [p for p in PAGES if ">>> " in p.read_text() and p != WALKTHROUGH], ids=page_id)
def test_every_page_with_python_runs_as_a_doctest_without_mnist(page, tmp_path):
    """(The walkthrough's own test below runs it the plainer way.)"""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", page_id(page)], cwd=ROOT, env=without_data(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout[-1000:]  # run, not skipped or left uncollected


def test_the_walkthrough_runs_under_plain_doctest(tmp_path):
    done = subprocess.run([sys.executable, "-m", "doctest", str(WALKTHROUGH)], cwd=tmp_path, env=without_data(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (WALKTHROUGH.parent / "conftest.py").exists()  # nothing the suite adds that a reader lacks


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_is_a_doctest(page):
    blocks = [body for language, body in FENCE.findall(page.read_text()) if language == "python"]
    for body in blocks:
        assert body.lstrip().startswith(">>> "), f"{page_id(page)}: a python block the suite does not run:\n{body[:300]}"


def test_the_suite_collects_the_readme_and_every_page_as_doctests():
    setup = (ROOT / "setup.cfg").read_text()
    testpaths = re.search(r"^testpaths\s*=(.*)$", setup, re.MULTILINE).group(1).split()
    assert "README.md" in testpaths and "docs" in testpaths, testpaths
    assert "--doctest-glob=*.md" in setup


# ---------------------------------------------------------------------------- links and figures


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page):
    for target, file, anchor in relative_links(page):
        assert file.exists(), f"{page_id(page)} links to {target}: no such file"
        if anchor:
            assert file.suffix == ".md", f"{page_id(page)} links to {target}: an anchor into a file that is no page"
            assert anchor in heading_anchors(file), (
                f"{page_id(page)} links to {target}: {file.name} has no heading with that anchor")


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n## A `code` heading: yes\n\nSee [here](#a-code-heading-yes), [there](other.md#top), "
                    "[gone](missing.md), [web](https://example.org/x.md) and `[code](nowhere.md)`.\n")
    (tmp_path / "other.md").write_text("# Top\n")
    links = {target: (file.exists(), anchor in heading_anchors(file) if anchor else None)
             for target, file, anchor in relative_links(page)}
    assert links == {"#a-code-heading-yes": (True, True), "other.md#top": (True, True), "missing.md": (False, None)}
    (tmp_path / "other.md").write_text("# Bottom\n")
    assert "top" not in heading_anchors(tmp_path / "other.md")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_figure_a_page_shows_is_committed_and_small(page):
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
        path = page.parent / image
        assert path.is_file() and path.stat().st_size < 200_000, f"{page_id(page)} shows {image}: missing or over 200 kB"


# ---------------------------------------------------------------------------- the front door


def test_the_readme_is_the_front_door_at_most_250_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines"
    for heading in ("## Install, run, test", "## A tour of the engine", "## The reading path"):
        assert heading in lines, heading
    for page in ("performance", "robustness-lab", "cifar10", "extending"):
        assert f"](docs/{page}.md)" in README.read_text(), f"the README does not link docs/{page}.md"


def test_ci_runs_the_readmes_install_and_test_commands():
    """.ci/run and the newcomer check take the README's first `pip install` and first `pytest` lines."""
    text = README.read_text()
    install = re.search(r"^(pip install .*)$", text, re.MULTILINE).group(1)
    tests = re.search(r"^((?:python3? -m )?pytest.*)$", text, re.MULTILINE).group(1)
    assert (install, tests) == ('pip install -e ".[test]"', "python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install in ci and tests in ci


def test_the_reading_path_names_files_that_exist_from_tensor_to_adversarial_training():
    section = README.read_text().split("## The reading path")[1].split("\n## ")[0]
    steps = re.findall(r"^\d+\. `([^`]+)`", section, re.MULTILINE)
    assert steps[0] == "minigrad/tensor.py" and steps[-1] == "attacks/adversarial_training.py", steps
    for step in steps:
        assert list(ROOT.glob(step)), f"the reading path names {step}: no such file"
    named = set(steps)
    for required in ("minigrad/engine.py", "minigrad/transforms.py", "minigrad/gradcheck.py", "minigrad/broadcast.py",
                     "minigrad/ops/*.py", "models/module.py", "models/layers.py", "models/classifiers.py",
                     "training/optim.py", "training/loop.py", "attacks/gradients.py", "attacks/methods.py"):
        assert required in named, f"the reading path leaves out {required}"
