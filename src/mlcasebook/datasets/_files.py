"""Shipped data files: locate them, verify their checksum, explain how to restore them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlcasebook.paths import data_dir

# file name -> SHA-256, as recorded in data/DATA.md
CHECKSUMS = {
    "telco_churn.csv": "863e369c3a03cea2bd20d696e572eb5fb064e04657744504deb7b6249b92f66e",
    "ames_housing.csv": "dc27fa1fc372a976b35142e88a9d8f86f31500efe45a3935999bbeddef0b8a98",
}


class DataFileError(FileNotFoundError):
    """A shipped data file is missing or does not match its recorded checksum."""


_verified: set[Path] = set()


def data_file(name: str) -> Path:
    """Return the path of a shipped data file after checking it exists and is intact."""
    path = data_dir() / name
    restore = (
        f"restore it with `git checkout -- data/{name}` in your mlcasebook clone "
        "(or set MLCASEBOOK_DATA to a folder holding the original file)"
    )
    if not path.is_file():
        raise DataFileError(f"Data file {name} not found at {path}; {restore}.")
    if path in _verified:
        return path
    expected = CHECKSUMS.get(name)
    if expected is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise DataFileError(
                f"Data file {path} is damaged or edited (SHA-256 {digest[:12]}… differs from the "
                f"recorded {expected[:12]}…); {restore}."
            )
    _verified.add(path)
    return path
