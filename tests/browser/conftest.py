"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, JupyterLab started as learners and
instructors start it (:mod:`mlcasebook.lab`), on temporary folders, and screenshots kept in test-artifacts/browser/.

Without Chromium (or Playwright) the tests skip on a developer machine and fail in CI (``CI`` set), with one line.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lab_servers import ARTIFACTS, serving

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere, with the same one line."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str | None:
    """``MLCASEBOOK_CHROMIUM`` or the first of chromium / chromium-browser on PATH."""
    explicit = os.environ.get("MLCASEBOOK_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the test module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("browser tests need Playwright: run `make install` (it is in the dev extra)")
    executable = chromium_executable()
    if executable is None:
        _unavailable("browser tests need Chromium: install Debian's `chromium` (apt-get install chromium) "
                     "or set MLCASEBOOK_CHROMIUM to its path")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@dataclass
class Screenshots:
    """Numbered screenshots of one test, in test-artifacts/browser/<test>/NN-<step>.png."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page, step: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=False)
        self.taken.append(path)
        return path


@pytest.fixture
def shot(request) -> Screenshots:
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@pytest.fixture(scope="module")
def learner_lab(browser, tmp_path_factory):
    """The learner's JupyterLab as ``make lab`` starts it (``mlcasebook lab``: copy the releases into the workspace,
    then :func:`mlcasebook.lab.learner_command`), on a temporary workspace. (``browser`` first: no Chromium, no lab.)"""
    from mlcasebook import lab, paths, release

    tmp = tmp_path_factory.mktemp("learner")
    root, scratch = tmp / "workspace", tmp / "scratch"
    root.mkdir()
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "workspace_dir", lambda: root)
        added = release.sync_workspace()
    assert root / "02_case_studies" / "churn_imbalance.ipynb" in added
    with serving(lab.learner_command, root, scratch, "learner-jupyter.log") as running:
        yield running
