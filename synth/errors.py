"""The one exception type that turns an unusable input into a rejects row."""

from __future__ import annotations


class Rejected(Exception):
    """An input or clip cannot be used; carries what the rejects table records.

    Args:
        reason: short phrase from a fixed vocabulary a user can group by,
            e.g. ``"empty file"``, ``"truncated"``, ``"too short"``.
        detail: one sentence with the specifics (sizes, counts, the library's message).
        measured: the measured value when a numeric gate failed, else None.
        threshold: the gate's threshold when a numeric gate failed, else None.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        measured: float | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.measured = measured
        self.threshold = threshold
