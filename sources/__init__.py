"""Collectors for the outside world: arXiv, Reddit, RSS/Atom feeds. Never imports bot/."""
