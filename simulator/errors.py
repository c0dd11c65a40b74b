"""Errors raised by the simulator.

SimulatorError          base: every message is shown to a user as is
├── ProfileError        a latency-profile file or value that cannot be used
└── RequestError        an API request the server refuses (HTTP 400)
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base class: the message is meant for the user."""


class ProfileError(SimulatorError):
    """A latency profile that is missing fields, has unknown ones, or values out of range."""


class RequestError(SimulatorError):
    """A request the OpenAI-compatible API refuses; carries the offending parameter."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)
