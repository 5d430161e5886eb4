"""Decoded source text: the term pre-filter, hit lines and ast-position to offset mapping."""

from __future__ import annotations

import bisect
import io
import itertools
import re
import tokenize
from functools import lru_cache

__all__ = ["term_pattern"]

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Line breaks for str.splitlines() that are not line breaks for Python's tokenizer.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@lru_cache(maxsize=64)
def term_pattern(terms: frozenset[str]) -> re.Pattern[str]:
    """A regex finding any of ``terms`` as a whole word."""
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b" if terms else r"(?!x)x")


@lru_cache(maxsize=64)
def _byte_pattern(terms: frozenset[str]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(t.encode()) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rb"\b(?:" + alternatives + rb")\b" if terms else rb"(?!x)x")


def _may_mention(code: bytes, terms: frozenset[str]) -> bool:
    """The cheap textual pre-filter: False only if no term can appear in the file."""
    if all(t.isascii() for t in terms):
        return _byte_pattern(terms).search(code) is not None
    # A non-ASCII name may be encoded differently by a coding cookie: compare text.
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(code).readline)
        text = code.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return True
    return term_pattern(terms).search(text) is not None


class _Text:
    """Decoded source with ast-position (line, UTF-8 byte column) to text-offset mapping."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        if _OTHER_BREAKS.search(text) is None:
            # splitlines() agrees with Python's tokenizer here, and runs at C speed.
            lengths = map(len, text.splitlines(keepends=True))
            self.starts = [0, *itertools.accumulate(lengths)]
            if self.starts[-1] == len(text) and len(self.starts) > 1:
                self.starts.pop()
            if text.endswith(("\n", "\r")):
                self.starts.append(len(text))
        else:
            self.starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]

    def offset(self, line: int, col: int) -> int:
        start = self.starts[line - 1]
        if self.ascii:
            return start + col
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return start + len(self.text[start:end].encode("utf-8")[:col].decode("utf-8"))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _hit_lines(text: _Text, pattern: re.Pattern[str]) -> list[int]:
    """Sorted 1-based lines holding a term: one regex search per such line."""
    hits: list[int] = []
    position = 0
    starts = text.starts
    while (match := pattern.search(text.text, position)) is not None:
        line = text.line_of(match.start())
        hits.append(line)
        if line >= len(starts):
            break
        position = starts[line]
    return hits
