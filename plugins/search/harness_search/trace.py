"""Episode record → seed 002 trace `{question, trace: [step...]}`.

The conversion lives in the harness (`harness.formats.search_trace`), where the search
formatters use it without importing this plugin; `to_trace` is its name here.
"""

from __future__ import annotations

from harness.formats.search_trace import search_trace as to_trace

__all__ = ["to_trace"]
