"""Errors the bot raises; the CLI turns each into one line that says what to do.

MidlistError
 +-- ConfigError     the config file is missing or wrong (names the file and key)
 +-- StoreError      the database cannot be opened or migrated
 +-- DeliveryError   a channel refused or failed a digest (retried on the next run)
      +-- DeliveryUncertain  the channel may have taken it (no answer): not resent blindly
"""

from __future__ import annotations


class MidlistError(Exception):
    pass


class ConfigError(MidlistError):
    pass


class StoreError(MidlistError):
    pass


class DeliveryError(MidlistError):
    """`retryable` is False when trying again cannot help (bad token, unknown channel)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class DeliveryUncertain(DeliveryError):
    """A request that may have been accepted (a timeout after sending, a dropped connection
    before the answer): resending could deliver twice, so only a read-back or the user decides."""
