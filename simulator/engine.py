"""The continuous-batching engine: waiting and running queues, KV blocks, chunked prefill.

Like vLLM V1's scheduler, every step first gives each running sequence its next tokens (one for a
decoding sequence, a chunk for one still in prefill) within `max_num_batched_tokens`, preempting the
most recently admitted sequence (recompute) when the KV cache has no block left, then admits waiting
requests first-come-first-served while `max_num_seqs`, the token budget and free KV blocks allow. A
sequence whose KV holds all its known tokens at the end of a step samples one new token.

The clock is injected (`simulator.clock`): `LoopClock` sleeps on the event loop; `simulator.replay`
runs the same scheduler in virtual time without sleeping (tests, and "what the profile says").
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from simulator.clock import Clock
from simulator.config import LatencyProfile
from simulator.latency import step_time_ms
from simulator.seq import FinishedRequest, SeqRequest, TokenSink

LATE_S = 0.002  # a step that ends later than this after its deadline counts as late
ADMIT_YIELDS = 3  # event-loop turns between steps: read the socket, parse the request, submit it
RESYNC_S = 0.25  # behind by more than this (a stalled event loop), the virtual clock restarts from now


class _Seq:
    __slots__ = (
        "req",
        "sink",
        "arrival_s",
        "scheduled_s",
        "token_times",
        "num_tokens",
        "computed",
        "blocks",
        "done",
    )

    def __init__(self, req: SeqRequest, sink: TokenSink | None, arrival_s: float) -> None:
        self.req = req
        self.sink = sink
        self.arrival_s = arrival_s
        self.scheduled_s: float | None = None
        self.token_times: list[float] = []
        self.num_tokens = req.prompt_tokens  # prompt + generated so far
        self.computed = 0  # tokens whose KV is cached
        self.blocks = 0
        self.done = False


@dataclass(frozen=True)
class Step:
    """One scheduled iteration: which sequences compute how many tokens, and how long it takes."""

    work: tuple[tuple[_Seq, int], ...]
    duration_s: float


class Engine:
    """A continuous-batching scheduler stepping with times from a latency profile."""

    def __init__(
        self,
        profile: LatencyProfile,
        *,
        clock: Clock,
        on_finished: Callable[[FinishedRequest], None] | None = None,
    ) -> None:
        self.profile = profile
        self._clock = clock
        self._on_finished = on_finished
        self._waiting: deque[_Seq] = deque()
        self._running: list[_Seq] = []
        self._by_id: dict[str, _Seq] = {}
        self._free_blocks = profile.num_blocks
        self._wakeup: asyncio.Event | None = None
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.preemptions_total = 0
        self.steps_total = 0
        self.late_steps_total = 0  # steps the event loop ended more than LATE_S after their deadline
        self.lag_s_total = 0.0  # their total lateness: the server's own overhead leaking into latency

    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    @property
    def kv_cache_usage(self) -> float:
        """Fraction of KV blocks in use, 0..1."""
        total = self.profile.num_blocks
        return (total - self._free_blocks) / total

    def has_work(self) -> bool:
        return bool(self._running or self._waiting)

    def submit(
        self, req: SeqRequest, sink: TokenSink | None = None, *, arrival_s: float | None = None
    ) -> None:
        """Queue a request; its tokens go to `sink` as steps produce them.

        Raises:
            ValueError: the request can never fit the KV cache, or its id is already queued.
        """
        state = self.profile.state_blocks_per_seq * self.profile.block_size  # a hybrid's fixed state
        capacity = self.profile.usable_kv_tokens - state
        if req.prompt_tokens + req.output_tokens > capacity:
            extra = f" besides its fixed state ({state} tokens' worth)" if state else ""
            raise ValueError(
                f"request {req.request_id} needs {req.prompt_tokens + req.output_tokens} tokens of KV cache;"
                f" the cache holds {capacity}{extra}"
            )
        if req.request_id in self._by_id:
            raise ValueError(f"request id {req.request_id} is already queued")
        seq = _Seq(req, sink, self._clock.now() if arrival_s is None else arrival_s)
        self._by_id[req.request_id] = seq
        self._waiting.append(seq)
        if self._wakeup is not None:
            self._wakeup.set()

    def abort(self, request_id: str) -> None:
        """Drop a request (its client went away); unknown or finished ids are ignored."""
        seq = self._by_id.get(request_id)
        if seq is None or seq.done:
            return
        if seq in self._waiting:
            self._waiting.remove(seq)
        else:
            self._running.remove(seq)
        self._finish(seq, "abort", self._clock.now())

    def schedule(self) -> Step:
        """Plan the next step (allocating KV blocks); `complete()` applies it."""
        budget = self.profile.max_num_batched_tokens
        work: list[tuple[_Seq, int]] = []
        preemptions_before = self.preemptions_total
        i = 0
        while i < len(self._running) and budget > 0:
            seq = self._running[i]
            n = min(seq.num_tokens - seq.computed, budget)
            if not self._make_room(seq, seq.computed + n):
                continue  # seq itself was preempted, so it is no longer in self._running
            work.append((seq, n))
            budget -= n
            i += 1
        if self.preemptions_total == preemptions_before:  # as vLLM: no admissions in a step that preempts
            self._admit(work, budget)
        return Step(work=tuple(work), duration_s=self._duration_s(work))

    def complete(self, step: Step, now_s: float) -> None:
        """Apply a step that ended at now_s: advance KV, emit tokens, finish requests."""
        self.steps_total += 1
        finished = False
        # Newest first: their first tokens (TTFT) leave before the decodes' next tokens (whose order,
        # the same every step, does not change their ITL).
        for seq, n in reversed(step.work):
            if seq.done:
                continue  # aborted during the step
            seq.computed += n
            if seq.computed < seq.num_tokens:
                continue  # a prefill chunk that did not reach the end of the prompt
            if not seq.token_times:
                self.prompt_tokens_total += seq.req.prompt_tokens
            seq.num_tokens += 1
            seq.token_times.append(now_s)
            self.generation_tokens_total += 1
            if seq.sink is not None:
                seq.sink.on_token(now_s)
            if len(seq.token_times) >= seq.req.output_tokens:
                reason = "length" if seq.req.output_tokens >= seq.req.max_tokens else "stop"
                self._finish(seq, reason, now_s)
                finished = True
        if finished:
            self._running = [s for s in self._running if not s.done]

    async def run(self) -> None:
        """Step forever on the injected clock; sleeps while there is nothing to do."""
        self._wakeup = asyncio.Event()
        deadline_s = self._clock.now()
        while True:
            if not self.has_work():
                self._wakeup.clear()
                await self._wakeup.wait()
                deadline_s = self._clock.now()
            # Sleeping to absolute deadlines keeps event-loop overhead from adding up step after step.
            deadline_s = max(deadline_s, self._clock.now() - RESYNC_S)
            step = self.schedule()
            deadline_s += step.duration_s
            await self._clock.sleep_until(deadline_s)
            lag_s = self._clock.now() - deadline_s
            if lag_s > LATE_S:
                self.late_steps_total += 1
                self.lag_s_total += lag_s
            self.complete(step, deadline_s)
            # Let requests that reached the socket during this step get parsed and queued before the
            # next one is planned, as they would be on a server whose API process runs alongside.
            for _ in range(ADMIT_YIELDS):
                await asyncio.sleep(0)

    def _admit(self, work: list[tuple[_Seq, int]], budget: int) -> None:
        while self._waiting and budget > 0 and len(self._running) < self.profile.max_num_seqs:
            seq = self._waiting[0]
            n = min(seq.num_tokens - seq.computed, budget)
            needed = self._blocks_for(seq.computed + n) - seq.blocks
            if needed > self._free_blocks:
                break  # first come, first served: later requests wait behind this one
            self._waiting.popleft()
            self._free_blocks -= needed
            seq.blocks += needed
            if seq.scheduled_s is None:
                seq.scheduled_s = self._clock.now()
            self._running.append(seq)
            work.append((seq, n))
            budget -= n

    def _make_room(self, seq: _Seq, tokens: int) -> bool:
        """Allocate blocks for seq to hold `tokens`, preempting from the back; False if seq was preempted."""
        needed = self._blocks_for(tokens) - seq.blocks
        while needed > self._free_blocks:
            victim = self._running.pop()
            self._free_blocks += victim.blocks
            victim.blocks = 0
            victim.computed = 0
            self._waiting.appendleft(victim)
            self.preemptions_total += 1
            if victim is seq:
                return False
        self._free_blocks -= needed
        seq.blocks += needed
        return True

    def _blocks_for(self, tokens: int) -> int:
        """Blocks a sequence of `tokens` holds: its KV, plus a hybrid's fixed state once it has any."""
        state = self.profile.state_blocks_per_seq if tokens > 0 else 0
        return -(-tokens // self.profile.block_size) + state

    def _duration_s(self, work: list[tuple[_Seq, int]]) -> float:
        batched = kv = 0
        pairs = 0.0
        for seq, n in work:
            context = seq.computed + n
            batched += n
            kv += context
            # a decode attends to its whole context; a prefill chunk causally (see latency.py)
            pairs += context if n == 1 else n * (seq.computed + n / 2.0)
        return (
            step_time_ms(self.profile, batched_tokens=batched, kv_tokens_read=kv, token_pairs=pairs) / 1000.0
        )

    def _finish(self, seq: _Seq, reason: str, now_s: float) -> None:
        seq.done = True
        self._free_blocks += seq.blocks
        seq.blocks = 0
        del self._by_id[seq.req.request_id]
        result = FinishedRequest(
            request_id=seq.req.request_id,
            prompt_tokens=seq.req.prompt_tokens,
            output_tokens=len(seq.token_times),
            finished_reason=reason,
            arrival_s=seq.arrival_s,
            scheduled_s=seq.scheduled_s,
            token_times_s=tuple(seq.token_times),
            finish_s=now_s,
        )
        if seq.sink is not None:
            seq.sink.on_finish(result)
        if self._on_finished is not None:
            self._on_finished(result)
