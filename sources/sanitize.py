"""Text from outside, made safe to store and show: one step at the sources' boundary.

`Paper` and `Mention` clean their text fields when they are made, so every collector and
the snapshot importer share it: lone surrogates (from `&#55296;` in a feed, or bad JSON
escapes) become U+FFFD, terminal escape sequences are dropped whole, NUL and other control
characters are dropped (newlines and tabs are kept where text may have lines), and so are
bidi marks and overrides. One hostile item then
cannot fail a batch, a store write or a whole feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Terminal escape sequences go whole, so no `[2J` is left behind once ESC is dropped: CSI
# (`ESC [ ... final`), OSC/DCS/PM/APC/SOS strings (ended by BEL or ST, or by the text's end),
# other two-character ESC sequences, and the 8-bit C1 forms of CSI and OSC.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 and C1 controls except tab/newline/CR, DEL, bidi marks, embeddings, overrides, isolates.
_BAD_MULTILINE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_LINE_BREAK = re.compile(r"[\t\n\r]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSAFE_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


# For ASCII text: every byte we would remove maps to 0, every other byte to a space.
_TEXT_BYTES = bytes(
    0 if b < 0x20 and b not in (0x09, 0x0A, 0x0D) or b == 0x7F else 0x20 for b in range(256)
)
_LINE_BYTES = bytes(0 if b < 0x20 or b == 0x7F else 0x20 for b in range(256))


def is_clean(lines: Iterable[str], texts: Iterable[str] = ()) -> bool:
    """True when single-line `lines` and multi-line `texts` need no cleaning.

    Called for every paper an import makes, so it avoids a regex pass where it can: ASCII
    text is checked through a byte table, other text with `str.isprintable()` (False for
    every character we remove: controls, format characters such as bidi overrides,
    surrogates); only what that rejects (a tab, a soft hyphen...) meets the regex.
    """
    return _fine(" ".join(lines), _LINE_BYTES, _UNSAFE_LINE, multiline=False) and _fine(
        " ".join(texts), _TEXT_BYTES, _UNSAFE_TEXT, multiline=True
    )


def _fine(text: str, table: bytes, unsafe: re.Pattern[str], *, multiline: bool) -> bool:
    if text.isascii():
        return b"\0" not in text.encode("ascii").translate(table)
    flat = text.replace("\n", " ").replace("\t", " ").replace("\r", " ") if multiline else text
    return flat.isprintable() or not unsafe.search(text)


def clean_text(text: str, *, multiline: bool = True) -> str:
    """`text` without controls and lone surrogates; single-line text loses newlines and tabs too."""
    if text.isascii() and text.isprintable():
        return text  # the common case, without a regex pass
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    text = _BAD_MULTILINE.sub("", _SEQUENCES.sub("", text))
    return text if multiline else _LINE_BREAK.sub(" ", text)


_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});")


def clean_char_refs(document: bytes) -> bytes:
    """XML/HTML bytes with character references to surrogates, NUL or controls replaced.

    A parser turns `&#55296;` into a lone surrogate before any text reaches us (and
    feedparser then fails on the whole feed), so these are fixed in the bytes: U+FFFD for a
    surrogate or an out-of-range code point, nothing for NUL and other controls.
    """

    def fix(m: re.Match[bytes]) -> bytes:
        ref = m.group(1)
        point = int(ref[1:], 16) if ref[:1] in (b"x", b"X") else int(ref)
        if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            return b"&#65533;"
        if point < 0x20 and point not in (0x09, 0x0A, 0x0D) or 0x7F <= point <= 0x9F:
            return b""
        return m.group(0)

    return _CHAR_REF.sub(fix, document) if b"&#" in document else document


def clean_optional(text: str | None, *, multiline: bool = True) -> str | None:
    return None if text is None else clean_text(text, multiline=multiline)
