"""Errors a collector raises. Leaf module: imports nothing from the project.

SourceError
 +-- FetchError   the source could not be reached or answered badly (timeout, 429, 5xx, HTML)
 +-- ParseError   the source answered, but not in the format it promised
"""

from __future__ import annotations


class SourceError(Exception):
    """A source failed; `source` names it so a report can say which."""

    def __init__(self, source: str, message: str):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message


class FetchError(SourceError):
    pass


class ParseError(SourceError):
    pass
