"""What a collector is: a name, and one call that returns what is new since its saved state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sources.models import Batch


class Collector(Protocol):
    @property
    def name(self) -> str:
        """Names the source in reports and keys its saved state."""
        ...

    def collect(self, state: Mapping[str, str]) -> Batch:
        """Fetch what is new. `state` is what the last Batch.state held (cursors, ETags).

        Raises sources.errors.SourceError when the source cannot be read at all; partial
        trouble (one bad feed entry) goes into Batch.notes instead.
        """
        ...
