"""The README's usage snippet runs as written."""

import os
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="tests copied without the README (a wheel test)")
def test_usage_snippet_runs(tmp_path, monkeypatch, capsys):
    usage = README.read_text().split("## Use", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # the snippet saves m.ranvier
    exec(compile(snippet, str(README), "exec"), {})
    assert os.path.exists(tmp_path / "m.ranvier")
    assert "accuracy" in capsys.readouterr().out
