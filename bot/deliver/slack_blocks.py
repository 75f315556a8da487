"""Digest -> Slack Block Kit messages, within Slack's limits; nothing here talks to Slack.

At most 50 blocks a message, 3000 characters a section, 150 a header, and always a plain `text`
fallback. A queue longer than ITEMS_PER_MESSAGE becomes a summary message plus parts for its
thread. Every piece of text that came from a paper, comment or feed is escaped (`&`, `<`, `>`),
so no title can ping `@channel` or forge a link. Only bot-token mode gets Save / Skip / Read
buttons: a webhook message cannot route clicks back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.escape import mrkdwn as escape
from bot.escape import safe_url
from bot.models import Digest, DigestItem

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000
ITEMS_PER_MESSAGE = 10
ACTIONS = (
    ("midlist_save", "Save", "primary"),
    ("midlist_read", "Mark read", None),
    ("midlist_skip", "Skip", None),
)


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str  # the fallback shown in notifications and by clients without Block Kit
    blocks: list[dict[str, Any]]


def link(url: str, label: str) -> str:
    """`<url|label>` with both halves made safe; no usable URL gives the plain label."""
    target = safe_url(url)
    return f"<{target}|{escape(label)}>" if target else escape(label)


# ---- rendering --------------------------------------------------------------------------------


def render_messages(digest: Digest, *, buttons: bool) -> list[SlackMessage]:
    """One message for a short queue; for a long one, a summary then the items in parts."""
    head = _head_blocks(digest)
    if not digest.items:
        return [SlackMessage(_fallback(digest), head)]
    groups = [_item_blocks(digest, i, item, buttons) for i, item in enumerate(digest.items, 1)]
    single = head + [b for g in groups for b in g]
    if len(digest.items) <= ITEMS_PER_MESSAGE and len(single) <= MAX_BLOCKS:
        return [SlackMessage(_fallback(digest), single)]
    parts = _pack(groups, MAX_BLOCKS, ITEMS_PER_MESSAGE)
    summary = head + _summary_blocks(digest, len(parts), MAX_BLOCKS - len(head))
    messages = [SlackMessage(_fallback(digest), summary)]
    first = 1
    for part in parts:
        last = first + sum(1 for b in part if b["type"] == "section") - 1
        text = escape(f"{digest.title}: papers {first}-{last} of {len(digest.items)}")
        messages.append(SlackMessage(text, part))
        first = last + 1
    return messages


def _head_blocks(digest: Digest) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(digest.title, MAX_HEADER)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(escape(digest.basis), MAX_SECTION)}],
        },
    ]
    if digest.note:
        blocks.append(_section(escape(digest.note)))
    return blocks


def _item_blocks(digest: Digest, n: int, item: DigestItem, buttons: bool) -> list[dict[str, Any]]:
    lines = [f"*{n}. {link(item.url, item.title)}*"]
    if item.authors:
        lines.append(escape(item.authors))
    if item.reasons:
        lines.append("_Why:_ " + escape(" · ".join(item.reasons)))
    for m in item.mentions:
        lines.append("> " + escape(m.describe()))
    text = "\n".join(lines)
    if item.abstract:
        room = MAX_SECTION - len(text) - 1
        if room > 40:
            text += "\n" + _cut_escaped(escape(item.abstract), room)
    blocks = [_section(text)]
    if buttons:
        value = f"{digest.niche}|{item.paper_id}"
        elements = []
        for action_id, label, style in ACTIONS:
            button: dict[str, Any] = {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": label},
                "value": value[:2000],
            }
            if style:
                button["style"] = style
            elements.append(button)
        blocks.append({"type": "actions", "block_id": f"midlist:{n}", "elements": elements})
    return blocks


def _summary_blocks(digest: Digest, parts: int, room: int) -> list[dict[str, Any]]:
    """Numbered linked titles, as many sections as 3000 characters each need."""
    lines = [
        f"{i}. {link(item.url, _cut(item.title, 150))}" for i, item in enumerate(digest.items, 1)
    ]
    sections: list[str] = []
    for line in lines:
        line = _cut_escaped(line, MAX_SECTION) if len(line) > MAX_SECTION else line
        if sections and len(sections[-1]) + 1 + len(line) <= MAX_SECTION:
            sections[-1] += "\n" + line
        else:
            sections.append(line)
    blocks = [_section(s) for s in sections[: room - 1]]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Details in {parts} more message{'s' if parts > 1 else ''} ↓",
                }
            ],
        }
    )
    return blocks


def _pack(
    groups: list[list[dict[str, Any]]], max_blocks: int, max_items: int
) -> list[list[dict[str, Any]]]:
    parts: list[list[dict[str, Any]]] = [[]]
    items = 0
    for group in groups:
        if parts[-1] and (len(parts[-1]) + len(group) > max_blocks or items >= max_items):
            parts.append([])
            items = 0
        parts[-1].extend(group)
        items += 1
    return parts


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut_escaped(text, MAX_SECTION)}}


def _fallback(digest: Digest) -> str:
    text = f"{digest.title}: {digest.basis}"
    if digest.note:
        text += f" {digest.note}"
    return escape(_cut(text, MAX_FALLBACK))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_escaped(text: str, limit: int) -> str:
    """Cut already-escaped text without splitting an `&amp;` entity or a `<url|label>` link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    lt, gt = cut.rfind("<"), cut.rfind(">")
    if lt > gt:
        cut = cut[:lt]
    return cut + "…"
