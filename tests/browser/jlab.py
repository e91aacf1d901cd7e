"""Driving JupyterLab 4 from Playwright the way a learner does: file browser, clicks, keys; the app object
(``window.jupyterapp``, exposed by the learner's lab) only to read state and wait for the kernel."""

from __future__ import annotations

import re

LONG = 180_000  # ms: a cell that loads data or grades a notebook, on a machine shared by other jobs

_KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


def open_lab(page, lab) -> None:
    page.goto(lab.url("/lab"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=LONG)
    page.wait_for_selector(".jp-DirListing-item", timeout=LONG)


def open_in_file_browser(page, path: str) -> None:
    """Double-click each part of ``path`` in the file browser, from the lab's root, as a learner would."""
    page.locator(".jp-BreadCrumbs-home").first.click()
    for part in path.split("/"):
        item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(part)}$")))
        item.first.dblclick()
    page.wait_for_function(f"""() => {{
      const w = window.jupyterapp.shell.currentWidget;
      return !!w && !!w.context && w.context.path === {path!r} && w.context.isReady;
    }}""", timeout=LONG)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell", timeout=LONG)
    wait_kernel_idle(page)


def wait_kernel_idle(page, timeout: int = LONG) -> None:
    page.wait_for_function(_KERNEL_IDLE, timeout=timeout)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached", timeout=timeout)


def is_dirty(page) -> bool:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")


def dirty_once_kernel_ready(page) -> bool:
    """Whether the open notebook is modified once its kernel's info and spec were applied to it (JupyterLab
    writes the kernel's ``language_info`` and ``kernelspec`` into the notebook's metadata at that moment)."""
    return page.evaluate("""async () => {
      const w = window.jupyterapp.shell.currentWidget;
      await w.context.ready;
      await w.sessionContext.ready;
      const kernel = w.sessionContext.session.kernel;
      await kernel.info;
      await kernel.spec;
      await new Promise(resolve => setTimeout(resolve, 0));
      return w.context.model.dirty;
    }""")


def report_row(page, index: int, part: str) -> str:
    """The text of the row of ``%check``'s table whose first cell names ``part`` (or its test, ``part_test``)."""
    rows = cell(page, index).locator(".mlcasebook-report tbody tr").all_inner_texts()
    found = [r for r in rows if r.split()[0] in (part, f"{part}_test")] if rows else []
    assert len(found) == 1, f"no single row for {part} in {rows}"
    return found[0]


def code_cell_starting(page, text: str):
    """The code cell whose source starts with ``text``."""
    index = page.evaluate("""(text) => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      return nb.widgets.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().startsWith(text));
    }""", text)
    assert index >= 0, f"no code cell starts with {text!r}"
    return index


def cell(page, index: int):
    """The cell at ``index``, scrolled into view (the notebook attaches cells to the page lazily)."""
    page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content.scrollToItem(i, 'smart')", index)
    located = page.locator(f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell[data-windowed-list-index='{index}']")
    located.wait_for(state="attached")
    return located


def execution_count(page, index: int):
    return page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.executionCount", index)


def active_index(page) -> int:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")


def select(page, index: int) -> None:
    """Click a cell's prompt area (command mode, the cell becomes active)."""
    cell(page, index).locator(".jp-InputPrompt").first.click()
    page.wait_for_function("(i) => window.jupyterapp.shell.currentWidget.content.activeCellIndex === i", arg=index)


def type_into(page, index: int, text: str) -> None:
    """Replace a cell's source by typing, as a learner does (click in the editor, select all, type)."""
    cell(page, index).locator(".jp-InputArea-editor .cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def source(page, index: int) -> str:
    return page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()",
                         index)


def run_active(page, timeout: int = LONG) -> int:
    """Shift+Enter on the active cell; wait until it ran and the kernel is idle; return the cell's index."""
    index = active_index(page)
    before = execution_count(page, index)
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("""([i, before]) => {
      const c = window.jupyterapp.shell.currentWidget.content.widgets[i].model;
      return c.executionCount !== null && c.executionCount !== before && c.executionState !== 'running';
    }""", arg=[index, before], timeout=timeout)
    wait_kernel_idle(page, timeout)
    return index


def output_text(page, index: int) -> str:
    out = cell(page, index).locator(".jp-OutputArea-output")
    out.first.wait_for(state="attached")
    return "\n".join(out.all_inner_texts())


def insert_below_and_run(page, index: int, text: str, timeout: int = LONG) -> int:
    """Select cell ``index``, insert a code cell below it (B), type ``text``, run it; return the new cell's index."""
    select(page, index)
    page.keyboard.press("b")
    new = index + 1
    page.wait_for_function("(i) => window.jupyterapp.shell.currentWidget.content.activeCellIndex === i", arg=new)
    page.keyboard.press("Enter")
    page.keyboard.type(text)
    run_active(page, timeout)
    return new


def save(page) -> None:
    """Ctrl+S, then wait until the document is clean."""
    page.keyboard.press("Escape")
    page.keyboard.press("ControlOrMeta+s")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=LONG)
