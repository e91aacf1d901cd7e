"""Execute one notebook in a fresh kernel and report wall seconds and the kernel's peak memory.

Run as a separate process so that RUSAGE_CHILDREN covers exactly this notebook's kernel.
Usage: python execute_notebook.py NOTEBOOK [PROBE_CODE]  -> prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient


def main() -> None:
    nb = nbformat.read(sys.argv[1], as_version=4)
    probe = sys.argv[2] if len(sys.argv) > 2 else ""
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(probe))
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}},
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    measured = {}
    if probe:
        for out in nb.cells[-1].outputs:
            if out.output_type == "stream" and out.text.startswith("BENCH "):
                measured = json.loads(out.text[6:])
    print(json.dumps({
        "seconds": round(seconds, 2),
        "kernel_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "errors": len(errors),
        "measured": measured,
    }))


if __name__ == "__main__":
    main()
