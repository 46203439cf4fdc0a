"""The README's example code is the code the tests run."""

from __future__ import annotations

from pathlib import Path


def test_the_readmes_backend_example_is_the_tested_file():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    block = readme.split("<!-- examples/backend.py -->\n```python\n", 1)[1].split("```", 1)[0]
    assert block.strip() and block in (root / "examples" / "backend.py").read_text()
