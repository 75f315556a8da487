"""Pure ranking: corpus + niche in, ordered picks with reasons out. Never imports bot/."""
