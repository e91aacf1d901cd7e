"""The learner's score history: every `mlcasebook check` appends one line to a local JSON-lines file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from mlcasebook import curriculum, paths


def history_file() -> Path:
    """``MLCASEBOOK_PROGRESS`` or ``workspace/.progress.jsonl`` (git-ignored, next to the learner's work)."""
    env = os.environ.get("MLCASEBOOK_PROGRESS")
    return Path(env).expanduser() if env else paths.workspace_dir() / ".progress.jsonl"


def record(report) -> None:
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "source": report.source,
        "notebook": report.notebook,
        "score": report.score,
        "max_score": report.max_score,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with path.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")


def summary() -> list[dict]:
    """One row per course notebook: latest and best score and when, or nothing yet."""
    latest: dict[str, dict] = {}
    best: dict[str, dict] = {}
    path = history_file()
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a damaged line does not hide the rest of the history
            key = entry.get("source")
            if not key:
                continue
            latest[key] = entry
            if key not in best or entry["score"] >= best[key]["score"]:
                best[key] = entry
    rows = []
    root = paths.course_root()
    for case in curriculum.cases(root):  # the manifest's order: the order a learner takes the cases
        key = str(case.source(root).relative_to(root))
        rows.append({"notebook": case.key, "title": case.title, "minutes": case.minutes, "source": key,
                     "latest": latest.get(key), "best": best.get(key)})
    return rows
