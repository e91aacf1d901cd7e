"""Write every money amount in the notebooks' markdown as ``\\\\$500``, the spelling JupyterLab 4 shows as "$500".

    python tools/escape_currency.py --check          # print what would change, exit 1 if anything would
    python tools/escape_currency.py                  # rewrite solutions/**/*.ipynb in place
    python tools/escape_currency.py PATH.ipynb ...   # only these notebooks

Why two backslashes: JupyterLab renders markdown first and typesets maths with MathJax afterwards, on the
rendered text. Markdown turns ``\\$`` into ``$``, which MathJax then pairs with the next dollar of the same text
run ("$500 when $p$" or "a $400k house ... a $100k one" becomes one garbled formula). Markdown turns ``\\\\$`` into
``\\$``, which MathJax (``processEscapes``) shows as a literal "$"; nbconvert's HTML behaves the same. Measured in
Chromium against JupyterLab 4.6 and nbconvert 7.17 (MathJax 2.7) for the report of issue #10.

What counts as money (the same rules feed tests/test_notebook_lint.py):

* code fences and inline code spans are left alone, and so is display maths ``$$...$$``;
* a dollar sign preceded by two (or three) backslashes is already literal and left alone;
* a dollar sign written ``\\$`` (one backslash) is meant literally and becomes ``\\\\$``;
* a bare ``$`` followed by a digit is money unless it opens an inline formula, that is unless the next bare
  dollar of the same paragraph closes a text that :func:`is_maths` accepts (``$1 - \\rho^2$`` is maths,
  ``$500 when $`` is not);
* every other ``$`` is left alone (inline maths, or a stray sign the lint test reports).

The file format is kept: json with indent=1, ensure_ascii=False and a trailing newline, as nbformat writes it.
Running the script twice changes nothing the second time. Run ``mlcasebook release <module>`` afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: how a literal dollar sign is written in markdown source (two backslashes, then the sign)
LITERAL_DOLLAR = "\\\\$"

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_TEX_TEXT = re.compile(r"\\(?:text|textrm|textit|textbf|mathrm|operatorname|mbox)\{[^{}]*\}")
_WORD_RUN = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}[ ]+[A-Za-z]{2,}")
_TEX_SIGN = re.compile(r"[\\^_{}=<>+\-*/|]")
MASK = "\x00"


def mask_code(text: str) -> str:
    """``text`` with code fences and inline code spans replaced by MASK characters (same length, same lines)."""
    out, fence = [], None
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * 3
            out.append(re.sub(r"[^\n]", MASK, line))
        elif fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            out.append(re.sub(r"[^\n]", MASK, line))
        else:
            out.append(line)
    masked = "".join(out)
    return _CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", MASK, m.group(0)), masked)


def is_maths(content: str) -> bool:
    """Whether the text between two dollar signs reads as TeX rather than prose around two amounts.

    Not maths: empty; starting or ending with whitespace (``$500 when $``); holding a code span or a blank line;
    holding two plain words in a row outside ``\\text{...}`` and the like (``house mispriced``); starting with a
    digit without a TeX command or operator (``$25k is a held-out number: ... about $``). Everything else is
    maths: ``$p$``, ``$H_0: p_T = p_C$``, ``$1 - \\rho^2$``, ``$\\sqrt{1 - 0.16} \\approx 0.92$``.
    """
    if not content or content != content.strip() or MASK in content or _PARAGRAPH_BREAK.search(content):
        return False
    if _WORD_RUN.search(_TEX_TEXT.sub("", content)):
        return False
    return not (content[0].isdigit() and not _TEX_SIGN.search(content))


@dataclass(frozen=True)
class Dollar:
    pos: int            # index of the "$" in the cell's text
    backslashes: int    # backslashes written right before it


def _backslashes(text: str, pos: int) -> int:
    k = 0
    while pos - k - 1 >= 0 and text[pos - k - 1] == "\\":
        k += 1
    return k


def bare_dollars(text: str) -> list[list[Dollar]]:
    """Per paragraph, the dollar signs MathJax sees as delimiters (not literal, not in code, not ``$$`` maths)."""
    work = mask_code(text)
    paragraphs, current, i = [], [], 0
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(work)]
    while i < len(work):
        if breaks and i >= breaks[0]:
            while breaks and i >= breaks[0]:
                breaks.pop(0)
            paragraphs.append(current)
            current = []
        if work[i] != "$":
            i += 1
            continue
        k = _backslashes(work, i)
        if (k // 2) % 2 == 1:           # \\$ or \\\$: markdown leaves "\$", which MathJax shows as "$"
            i += 1
            continue
        if k == 0 and work.startswith("$$", i):   # display maths: skip to its closing $$
            end = work.find("$$", i + 2)
            i = len(work) if end < 0 else end + 2
            continue
        current.append(Dollar(i, k))
        i += 1
    paragraphs.append(current)
    return paragraphs


def money_signs(text: str) -> list[Dollar]:
    """The dollar signs of ``text`` that stand for money and are not yet written as LITERAL_DOLLAR."""
    work = mask_code(text)
    found = []
    for dollars in bare_dollars(text):
        j = 0
        while j < len(dollars):
            d = dollars[j]
            if j + 1 < len(dollars):
                c = dollars[j + 1]
                content = work[d.pos + 1:c.pos - c.backslashes]
                if d.backslashes == 0 and c.backslashes == 0 and is_maths(content):
                    j += 2
                    continue
            if d.backslashes == 1 or work[d.pos + 1:d.pos + 2].isdigit():
                found.append(d)
            j += 1
    return found


def non_maths_pairs(text: str) -> list[str]:
    """The ``$...$`` pairs MathJax would typeset although the text between them is not maths (left to right)."""
    work = mask_code(text)
    pairs = []
    for dollars in bare_dollars(text):
        for d, c in zip(dollars[::2], dollars[1::2], strict=False):
            content = work[d.pos + 1:c.pos - c.backslashes]
            if not (d.backslashes == 0 and c.backslashes == 0 and is_maths(content)):
                pairs.append(text[d.pos - d.backslashes:c.pos + 1])
    return pairs


def escape(text: str) -> tuple[str, int]:
    """``text`` with every money sign written LITERAL_DOLLAR, and how many were rewritten."""
    signs = money_signs(text)
    for d in reversed(signs):
        text = text[:d.pos - d.backslashes] + LITERAL_DOLLAR + text[d.pos + 1:]
    return text, len(signs)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def escape_notebook(path: Path, *, write: bool) -> tuple[int, list[tuple[int, str, str]]]:
    """Rewrite the markdown cells of one notebook: the number of signs rewritten and (cell, old, new) per line."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    signs, changes = 0, []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new, count = escape(source)
        if not count:
            continue
        signs += count
        changes += [(index, a, b) for a, b in zip(_lines(source), _lines(new), strict=True) if a != b]
        cell["source"] = _lines(new) if isinstance(cell["source"], list) else new
    if changes and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return signs, changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: solutions/**/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="print what would change and exit 1 if anything would")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "solutions").glob("**/*.ipynb"))
    total = notebooks = 0
    for path in paths:
        signs, changes = escape_notebook(path, write=not args.check)
        for index, old, new in changes:
            print(f"{path} cell {index}:\n  - {old.rstrip()}\n  + {new.rstrip()}")
        total += signs
        notebooks += bool(signs)
    verb = "would rewrite" if args.check else "rewrote"
    print(f"{verb} {total} dollar sign(s) in {notebooks} of {len(paths)} notebook(s)")
    return 1 if args.check and total else 0


if __name__ == "__main__":
    sys.exit(main())
