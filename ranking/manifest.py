"""The index on disk: a directory per segment and one manifest (meta.json) naming them.

New segments are written first and the manifest is swapped in with a rename, so a reader never
sees half an index; segments the manifest no longer names are removed after. A reader that finds
a segment merged away between reading the manifest and its files tries again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ranking.segment import Segment

FORMAT = 6  # 6: a text hash per row
_ATTEMPTS = 3


class IndexCorrupt(Exception):
    """The stored index cannot be read; rebuilding it from the store fixes this."""


@dataclass(frozen=True, slots=True)
class Manifest:
    segments: list[Segment]
    tags: list[str]
    dead: list[npt.NDArray[np.int64]]
    extra: dict[str, str]


def exists(directory: str | os.PathLike[str]) -> bool:
    return (Path(directory) / "meta.json").is_file()


def write(
    target: Path,
    segments: list[Segment],
    dead: list[npt.NDArray[np.int64]],
    tags: list[str],
    extra: dict[str, str],
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for seg in segments:
        if not seg.name or not (target / seg.name).is_dir():
            name = f"seg-{uuid.uuid4().hex[:12]}"
            seg.save(target / name)
            seg.name = name
    manifest = {
        "format": FORMAT,
        "segments": [seg.name for seg in segments],
        "dead": [d.tolist() for d in dead],
        "tags": tags,
        "extra": extra,
    }
    fd, tmp = tempfile.mkstemp(prefix=".meta-", dir=target)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(manifest, file)
    os.replace(tmp, target / "meta.json")
    keep = {seg.name for seg in segments}
    for path in target.glob("seg-*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def read(path: Path) -> Manifest:
    for attempt in range(_ATTEMPTS):
        try:
            return _read(path)
        except IndexCorrupt:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _read(path: Path) -> Manifest:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not an object")
        if meta.get("format") != FORMAT:
            raise IndexCorrupt(f"{path}: index format {meta.get('format')}, expected {FORMAT}")
        segments = [Segment.load(path / name) for name in meta["segments"]]
        dead = [np.array(d, dtype=np.int64) for d in meta["dead"]]
        if len(dead) != len(segments):
            raise ValueError("its manifest disagrees with its segments")
        return Manifest(segments, list(meta["tags"]), dead, dict(meta.get("extra", {})))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise IndexCorrupt(f"{path}: cannot read the ranking index ({exc})") from exc
