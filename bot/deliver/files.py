"""The `file` and `console` channels: Markdown or HTML for people without Slack or email."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path
from typing import TextIO

from bot.config import FileChannel
from bot.deliver.render import render_html, render_markdown
from bot.errors import DeliveryError
from bot.models import Digest

_UNSAFE_NAME = re.compile(r"[^\w.-]+")
_UMASK_LOCK = threading.Lock()


def digest_path(cfg: FileChannel, digest: Digest) -> Path:
    """The channel's path with {date} and {niche} filled; a niche name cannot add directories."""
    niche = _UNSAFE_NAME.sub("-", digest.niche).strip("-.") or "niche"
    return Path(cfg.path.format(date=digest.day, niche=niche)).expanduser()  # checked by config


def write_file(name: str, cfg: FileChannel, digest: Digest) -> Path:
    """Written to a temporary file and renamed, so a reader never sees half a digest.

    The file gets the channel's `mode`, else what `open` would give it (0666 less the umask,
    0644 by default), so teammates can read a digest written to a shared directory."""
    path = digest_path(cfg, digest)
    text = render_html(digest) if cfg.format == "html" else render_markdown(digest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, text.encode("utf-8"), cfg.mode)
    except OSError as exc:
        raise DeliveryError(f"channel {name}: cannot write {path}: {exc.strerror or exc}") from exc
    return path


def replace_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to a temporary file beside `path` and rename it over `path`.

    A reader never sees half a file, and a failed write (a full disk) leaves no temporary file
    behind. The file gets `mode`, else what `open` would give it (0666 less the umask)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it: put it straight back)."""
    with _UMASK_LOCK:
        current = os.umask(0o022)
        os.umask(current)
    return current


def write_console(digest: Digest, stream: TextIO) -> None:
    stream.write(render_markdown(digest))
    stream.flush()
