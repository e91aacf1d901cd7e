"""Text that renders and says what it means (CONVENTIONS.md, "Text that renders"), on every source and release notebook.

Four rules, each a function returning its findings as (cell index, offending text), so a failure names the
notebook, the cell and the text, and each rule is itself tested on a small bad and good example below:

* dollar signs: no ``$...$`` pair that MathJax would typeset while the text between is prose, and every money
  amount written ``\\\\$500`` (the only spelling JupyterLab 4 and nbconvert both show as "$500"; see
  tools/escape_currency.py, which rewrites them and whose rules these are);
* a heading starts its cell;
* an answer stub names the object to fill in: outside the solution region (the release's whole text) it assigns
  a name or defines a function or class; a drawing cell may instead name the plot helper to call in a comment;
* a backticked name in the markdown (`segment_effects`, `segment_effects(frame)`, `np.log`) is one the
  notebook's code cells define, import, pass as a keyword, read as an attribute or write as a string (a column or
  a key), or a Python builtin or keyword; a backticked `name=...` is a keyword argument and allowed; a dotted name
  needs only its first part known. ALLOWED lists, per notebook and with a reason, the few that are neither.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import keyword
import re
import sys

import nbformat
import pytest

from mlcasebook import curriculum
from mlcasebook.authoring import HEADING
from notebook_fixtures import ROOT

_spec = importlib.util.spec_from_file_location("escape_currency", ROOT / "tools" / "escape_currency.py")
currency = sys.modules.setdefault("escape_currency", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(currency)

NOTEBOOKS = [p for case in curriculum.cases(ROOT) for p in (case.source(ROOT), case.release(ROOT))]
SOURCE_OF = {case.release(ROOT): case.source(ROOT) for case in curriculum.cases(ROOT)}

#: backticked names the markdown may use although no code cell of the notebook writes them, per notebook stem
ALLOWED: dict[str, dict[str, str]] = {
    "metrics_and_thresholds": {
        "TunedThresholdClassifierCV": "the scikit-learn class the text offers as one way to tune the threshold",
    },
    "error_analysis_residuals": {
        "modeldata": "the R package the Ames table comes from (data origin)",
        "Mas_Vnr_Type": "a column of the Ames table the text describes; no cell needs to name it",
        "Misc_Feature": "a column of the Ames table the text describes; no cell needs to name it",
        "Abnorml": "a value of Sale_Condition, quoted to explain an outlier",
    },
    "churn_imbalance": {
        "total_charges": "the telco column with missing values the text warns about; the learner's pipeline handles it",
    },
}

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_REFERENCE = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*(?:\(.*\))?", re.S)
_KEYWORD_ARGUMENT = re.compile(r"[A-Za-z_]\w*\s*=(?!=).*", re.S)
_PLOT_HELPER_COMMENT = re.compile(r"^\s*#.*\bplots\w*\.\w+\(", re.M)
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?", re.M | re.S)


def _ids(path):
    return f"{path.parent.parent.name}/{path.parent.name}/{path.stem}"


def _markdown(nb):
    return [(i, cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"]


def _outside_fences(text: str):
    """(line number, line) of the markdown lines outside code fences (a '# comment' inside ``` is not a heading)."""
    fenced = False
    for number, line in enumerate(text.splitlines()):
        if _FENCE_LINE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _python(source: str) -> ast.Module | None:
    """The cell's code without IPython magics and shell lines, parsed; None if it does not parse."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


# ---------------------------------------------------------------- the rules


def dollar_pairs(nb) -> list[tuple[int, str]]:
    """``$...$`` pairs that MathJax would typeset as a formula although the text between them is prose."""
    return [(i, pair) for i, text in _markdown(nb) for pair in currency.non_maths_pairs(text)]


def unescaped_money(nb) -> list[tuple[int, str]]:
    """Money amounts not yet written ``\\\\$`` (each shown with the text that follows its sign)."""
    found = []
    for i, text in _markdown(nb):
        for sign in currency.money_signs(text):
            found.append((i, text[sign.pos - sign.backslashes:sign.pos + 12].split("\n")[0]))
    return found


def late_headings(nb) -> list[tuple[int, str]]:
    """Headings that do not start their cell."""
    return [(i, line) for i, text in _markdown(nb) for number, line in _outside_fences(text)
            if number > 0 and HEADING.match(line)]


def unnamed_stubs(nb) -> list[tuple[int, str]]:
    """Answer code cells whose stub (the text outside the solution region) names nothing to fill in."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        stub = _SOLUTION_REGION.sub("", cell.source)
        tree = _python(stub)
        names = tree is not None and any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            or (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name | ast.Tuple) for t in node.targets))
            or (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name))
            for node in tree.body)
        if not names and not _PLOT_HELPER_COMMENT.search(stub):
            found.append((i, f"{meta.get('grade_id')}: {stub.strip()[:120]!r}"))
    return found


def defined_names(nb) -> set[str]:
    """Every name the notebook's code cells write: assigned, defined, imported, a parameter, a keyword passed, an
    attribute read, or an identifier-like string (a column or a key); plus Python's builtins and keywords."""
    names = set(dir(builtins)) | set(keyword.kwlist)
    for cell in nb.cells:
        tree = _python(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.update(node.module.split("."))
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
                    names.update(alias.name.split("."))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _IDENTIFIER.fullmatch(node.value):
                names.add(node.value)
    return names


def undefined_references(nb, allowed=()) -> list[tuple[int, str]]:
    """Backticked names in the markdown that the notebook never defines (see the module docstring)."""
    known = defined_names(nb) | set(allowed)
    found = []
    for i, text in _markdown(nb):
        prose = "\n".join(line for _, line in _outside_fences(text))
        for span in currency._CODE_SPAN.finditer(prose):
            content = span.group(2).strip()
            m = _REFERENCE.fullmatch(content)
            if _KEYWORD_ARGUMENT.fullmatch(content) or not m:
                continue
            head = m.group(1).split(".")[0]
            if head not in known:
                found.append((i, content))
    return found


# ---------------------------------------------------------------- on every notebook


def _report(path, what: str, findings) -> str:
    def short(text):
        text = text.replace("\n", " ")
        return text if len(text) <= 100 else f"{text[:60]} … {text[-30:]}"
    return f"{_ids(path)}: {what}: " + "; ".join(f'cell {i}: "{short(text)}"' for i, text in findings)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_no_prose_is_typeset_as_maths(path):
    found = dollar_pairs(nbformat.read(path, as_version=4))
    assert not found, _report(path, "dollar pairs MathJax would typeset as a formula (write money as \\\\$500)", found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_money_is_written_as_a_literal_dollar(path):
    found = unescaped_money(nbformat.read(path, as_version=4))
    assert not found, _report(path, "money not written \\\\$500 (run tools/escape_currency.py)", found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_a_heading_starts_its_cell(path):
    found = late_headings(nbformat.read(path, as_version=4))
    assert not found, _report(path, "headings that do not start their cell (split the cell)", found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_stub_names_what_to_fill_in(path):
    found = unnamed_stubs(nbformat.read(path, as_version=4))
    assert not found, _report(path, "answer stubs that neither assign a name nor define a function", found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_the_text_names_only_what_the_notebook_defines(path):
    """A release's text also names what its learner will write (parameters, columns): the names its solution
    notebook's code defines count for it too."""
    allowed = set(ALLOWED.get(path.stem, {}))
    if path in SOURCE_OF:
        allowed |= defined_names(nbformat.read(SOURCE_OF[path], as_version=4))
    found = undefined_references(nbformat.read(path, as_version=4), allowed)
    assert not found, _report(path, "backticked names no code cell defines", found)


# ---------------------------------------------------------------- the rules can fail


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        nb.cells.append(cell)
    return nb


def _md(text):
    return nbformat.v4.new_markdown_cell(text)


def _code(text, **nbgrader):
    cell = nbformat.v4.new_code_cell(text)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


@pytest.mark.parametrize(("text", "pairs"), [
    ("worth \\$500 when $p$ is high and \\$50", ["\\$500 when $", "$ is high and \\$"]),
    ("a $400k house mispriced by more than a $100k one", ["$400k house mispriced by more than a $"]),
    ("**\\$500**, each contact costs **\\$50**", ["\\$500**, each contact costs **\\$"]),
])
def test_dollar_rule_finds_prose_between_dollars(text, pairs):
    assert [pair for _, pair in dollar_pairs(_nb(_md(text)))] == pairs
    assert unescaped_money(_nb(_md(text)))


@pytest.mark.parametrize("text", [
    "worth \\\\$500 when $p$ is high and \\\\$50",
    "$1 - \\rho^2$, with $\\rho$ the correlation; $H_0: p_T = p_C$",
    "$$Y_{\\text{cuped}} = Y - \\theta\\,(X - \\bar X)$$ and then \\\\$5",
    "`$500 and $50` in code, and\n```\nprint(f'${x} and ${y}')\n```",
    "one amount in its own paragraph \\\\$5\n\nand another \\\\$6",
])
def test_dollar_rule_passes_maths_code_and_literal_dollars(text):
    assert dollar_pairs(_nb(_md(text))) == []
    assert unescaped_money(_nb(_md(text))) == []


def test_currency_tool_rewrites_money_once_and_leaves_maths():
    text = "worth $500 when $p$ and \\$50; $1 - \\rho^2$; `$5`"
    fixed, count = currency.escape(text)
    assert (fixed, count) == ("worth \\\\$500 when $p$ and \\\\$50; $1 - \\rho^2$; `$5`", 2)
    assert currency.escape(fixed) == (fixed, 0)
    assert dollar_pairs(_nb(_md(fixed))) == []


def test_heading_rule():
    assert late_headings(_nb(_md("Some text.\n## 2. A section"))) == [(0, "## 2. A section")]
    assert late_headings(_nb(_md("## 2. A section\nSome text."), _md("```\n# a comment\n```"))) == []


def test_stub_rule():
    bad = [_code("# YOUR CODE HERE\nraise NotImplementedError()", solution=True, grade_id="x_a"),
           _code("### BEGIN SOLUTION\nthreshold = 0.3\n### END SOLUTION", solution=True, grade_id="x_b"),
           _code("print(metric)\n### BEGIN SOLUTION\nmetric = 'ap'\n### END SOLUTION", solution=True, grade_id="x_c")]
    assert [i for i, _ in unnamed_stubs(_nb(*bad))] == [0, 1, 2]
    good = [_code("threshold = None\n### BEGIN SOLUTION\nthreshold = 0.3\n### END SOLUTION", solution=True),
            _code("def psi(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()", solution=True),
            _code("X_train = X_test = None\n# YOUR CODE HERE\nraise NotImplementedError()", solution=True),
            _code("# plots.pr_curve(y_test, {...})\n### BEGIN SOLUTION\nplots.pr_curve(y, s)\n### END SOLUTION",
                  solution=True),
            _code("print('a demo cell, not an answer')")]
    assert unnamed_stubs(_nb(*good)) == []


def test_reference_rule():
    code = _code("import numpy as np\nfrom sklearn.metrics import average_precision_score\n"
                 "def segment_effects(frame, columns):\n    return frame['lift'].mean()\nmodel = None\n"
                 "model.fit(X, y, class_weight='balanced')")
    good = _md("Call `segment_effects(frame, columns)` on `frame`; the `lift` column; `np.log`; `model.fit`; "
               "`average_precision_score`; `sklearn.metrics`; `class_weight=\"balanced\"`; `len`; `None`; "
               "`p * 500 > 50` is an expression, not a name")
    assert undefined_references(_nb(code, good)) == []
    bad = _md("Now write `segment_effect(frame)` and print `segments_table`; see `pd.concat`")
    assert undefined_references(_nb(code, bad)) == [(1, "segment_effect(frame)"), (1, "segments_table"),
                                                    (1, "pd.concat")]
    assert undefined_references(_nb(code, bad), {"segment_effect", "segments_table", "pd"}) == []
