"""The grading folder stays short enough for the Unix sockets inside it, whatever TMPDIR is."""

from __future__ import annotations

import shutil
import tempfile

from mlcasebook.grading.sandbox import scratch

SOCKET_BELOW_WORKDIR = "/work/.channel/socket"  # the longest socket path under the scratch folder


def test_a_deep_temporary_folder_moves_grading_to_tmp(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    folder = scratch()
    try:
        assert not str(folder).startswith(str(deep))
        assert len(str(folder) + SOCKET_BELOW_WORKDIR) < 107
    finally:
        shutil.rmtree(folder)


def test_a_short_temporary_folder_is_used_as_it_is(tmp_path, monkeypatch):
    short = tempfile.mkdtemp(prefix="t", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", short)
    folder = scratch()
    try:
        assert str(folder).startswith(short + "/mlcasebook-grade-")
    finally:
        shutil.rmtree(short)
