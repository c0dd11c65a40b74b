"""What goes into the engine and what comes out: requests, their finished records, token sinks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SeqRequest:
    """A generation request as the engine sees it: token counts only."""

    request_id: str
    prompt_tokens: int
    output_tokens: int  # tokens to generate; equal to max_tokens unless an EOS draw stops it earlier
    max_tokens: int


@dataclass(frozen=True)
class FinishedRequest:
    """The life of one request, times in seconds on the engine's clock."""

    request_id: str
    prompt_tokens: int
    output_tokens: int
    finished_reason: str  # "length", "stop" or "abort"
    arrival_s: float
    scheduled_s: float | None
    token_times_s: tuple[float, ...]
    finish_s: float

    @property
    def ttft_s(self) -> float | None:
        return self.token_times_s[0] - self.arrival_s if self.token_times_s else None

    @property
    def e2e_s(self) -> float:
        return self.finish_s - self.arrival_s

    @property
    def itls_s(self) -> list[float]:
        t = self.token_times_s
        return [t[i] - t[i - 1] for i in range(1, len(t))]

    @property
    def tpot_s(self) -> float | None:
        t = self.token_times_s
        return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None


class TokenSink(Protocol):
    """Receives one request's tokens as the engine makes them."""

    def on_token(self, now_s: float) -> None: ...

    def on_finish(self, result: FinishedRequest) -> None: ...
