"""What `make install` pins keeps each grading process quick to start.

Every `mlcasebook check`, nbgrader command, Jupyter server and test worker imports nbformat, and nbformat imports
jsonschema. jsonschema 4.25+ imports ``rfc3987_syntax`` when it is installed (its ``format-nongpl`` extra, which
jupyter-events asks for), and that module builds an Earley parser for the IRI grammar at import: 0.93 s of the
1.10 s ``import nbformat`` took here, paid by every process (upstream: python-jsonschema/jsonschema#1392, #1521).
constraints.txt pins jsonschema 4.24.1, which neither asks for nor imports it; nothing here validates IRIs.
"""

from __future__ import annotations

import subprocess
import sys


def test_importing_nbformat_does_not_build_the_iri_parser():
    probe = "import sys, nbformat, jsonschema; print(sorted(m for m in ('rfc3987_syntax', 'lark') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import nbformat loaded {out.strip()}: jsonschema is newer than constraints.txt pins"
