"""midlist: a research-paper discovery and reading-queue bot."""
