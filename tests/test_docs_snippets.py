"""The code examples of the docs pages run as written (the README's has tests/test_readme.py)."""

import pathlib
import re

import numpy as np
import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _first_python_block(page):
    return re.search(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S).group(1)


@pytest.mark.skipif(not DOCS.exists(), reason="tests copied without the docs (a wheel test)")
def test_preprocessing_page_example_trains_saves_and_reloads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example saves text.ranvier
    namespace = {}
    exec(compile(_first_python_block("preprocessing.md"), str(DOCS / "preprocessing.md"), "exec"), namespace)
    assert (tmp_path / "text.ranvier").exists()
    assert namespace["vectorize"].get_vocabulary()[:4] == ["", "[UNK]", "the", "cat"]
    loaded = namespace["keras"].models.load_model("text.ranvier")
    texts = namespace["texts"]
    np.testing.assert_array_equal(loaded.predict(texts), namespace["model"].predict(texts))
