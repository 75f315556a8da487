"""The daily digest: `build` turns a ranking into a `bot.models.Digest`; `send` records it in the
ledger, delivers it to each channel and marks it sent, once per niche, channel and day."""
