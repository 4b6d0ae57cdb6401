"""The webcam app's one user error type."""

from __future__ import annotations

from typing import Optional

class WebcamError(ValueError):
    """A camera, video, output or model problem; the message says what and what to do.

    ``stats`` holds the run's stats when the error happened mid-stream (else ``None``)."""

    def __init__(self, message: str, stats: Optional[dict] = None):
        super().__init__(message)
        self.stats = stats
