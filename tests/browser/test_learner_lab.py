"""A learner's walk through churn_imbalance in the real lab (headless Chromium): a wrong answer and its check's
message, a hint, the fix, ``%check``'s table, save; and the lab shows none of nbgrader's instructor tools."""

from __future__ import annotations

import json
import re
import time
import tomllib

import jlab
import pytest
from lab_servers import ROOT

pytestmark = pytest.mark.slow

NOTEBOOK = "02_case_studies/churn_imbalance.ipynb"
PART = "churn_metric"
WRONG, RIGHT = 'metric = "accuracy"', 'metric = "average_precision"'
CHECK_TIMEOUT = 900_000  # ms: %check grades the whole notebook in the sandbox, on a loaded machine


def _flat(text: str) -> str:
    return " ".join(text.replace("`", "").replace("*", "").split())


def _hints(part: str) -> list[str]:
    with open(ROOT / "src" / "mlcasebook" / "hints" / "churn_imbalance.toml", "rb") as f:
        return tomllib.load(f)[part]["hints"]


def test_learner_walks_churn_metric(learner_lab, page, shot):
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(step: str) -> None:
        timings[step] = round(time.monotonic() - started, 1)
        shot(page, step)

    jlab.open_lab(page, learner_lab)
    lap("lab open")
    # A learner's lab: no nbgrader plugin in the page, no nbgrader handler on the server.
    commands = page.evaluate("() => window.jupyterapp.commands.listCommands().filter(c => c.startsWith('nbgrader:'))")
    assert commands == [], f"nbgrader commands in the learner's lab: {commands}"
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert not [m for m in menus if "nbgrader" in m.lower()], menus
    for path in ("/formgrader", "/assignments"):
        status = page.request.get(learner_lab.url(path)).status
        assert status == 404, f"{path} answers {status} in the learner's lab"

    jlab.open_in_file_browser(page, NOTEBOOK)
    dirty_on_open = jlab.dirty_once_kernel_ready(page)
    lap("notebook open")
    chrome = page.evaluate("""() => {  // the lab's menus, side bars, toolbars and tabs, without the notebook's text
      const copy = document.querySelector('#main').cloneNode(true);
      copy.querySelectorAll('.jp-Notebook').forEach(n => n.remove());
      document.body.appendChild(copy); const text = copy.innerText; copy.remove(); return text;
    }""")
    for word in ("Formgrader", "Assignment List", "Create Assignment", "Validate", "Nbgrader"):
        assert word not in chrome, f"{word!r} shown in the learner's lab"

    jlab.select(page, 1)  # the setup cell: the first code cell
    jlab.run_active(page)
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    lap("setup ran")

    answer = jlab.code_cell_starting(page, "metric = None")
    jlab.type_into(page, answer, WRONG)
    jlab.run_active(page)  # the answer cell; Shift+Enter moves on to its check
    check = jlab.run_active(page)
    assert check == answer + 1
    message = jlab.output_text(page, check)
    lap("wrong answer checked")
    assert "failed" in message and "metric choice" in message, message
    assert not re.search(r"average.precision|pr.auc", message, re.IGNORECASE), message
    assert f'hint("{PART}")' in message, "a failed check points to its hint"

    hint_cell = jlab.insert_below_and_run(page, check, "hint()")
    hint_text = jlab.output_text(page, hint_cell)
    lap("hint")
    hints = _hints(PART)
    assert f"Hint 1 of {len(hints)}" in hint_text and PART in hint_text, hint_text
    assert _flat(hints[0])[:80] in _flat(hint_text), hint_text

    jlab.type_into(page, answer, RIGHT)
    jlab.run_active(page)
    assert jlab.run_active(page) == check
    message = jlab.output_text(page, check)
    lap("fixed answer checked")
    assert "passed" in message and "failed" not in message, message

    report_cell = jlab.insert_below_and_run(page, hint_cell, "%check", timeout=CHECK_TIMEOUT)
    jlab.cell(page, report_cell).locator(".mlcasebook-report").wait_for()
    report = jlab.output_text(page, report_cell)
    lap("check my notebook")
    row = jlab.report_row(page, report_cell, PART)
    assert "passed" in row and re.search(r"\b(\d+(?:\.\d+)?)/\1\b", row), f"{PART} should pass with full points: {row}"
    assert re.search(r"total: \d+(\.\d+)?/\d+", report), report
    history = [json.loads(line) for line in learner_lab.progress_file.read_text().splitlines()]
    assert history and history[-1]["notebook"].endswith("churn_imbalance.ipynb"), history

    jlab.save(page)
    lap("saved")
    saved = json.loads((learner_lab.root / NOTEBOOK).read_text())
    sources = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in saved["cells"]}
    assert sources[PART] == RIGHT

    (shot.folder / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(f"browser walk timings (s since start, machine under load): {timings}")
    # Checked last so the walk above runs either way. JupyterLab writes the kernel's full language_info (version,
    # mimetype, codemirror_mode, ...) into the notebook when the kernel starts: a copy holding less opens modified.
    assert not dirty_on_open, "the learner's copy of the release opened marked modified (metadata.language_info)"
