"""The engine in virtual time: what a latency profile says a load gets, with no sleeping and no I/O.

Used by the tests and by the benchmark as the reference the served simulator must match.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.clock import ManualClock
from simulator.config import LatencyProfile
from simulator.engine import Engine
from simulator.seq import FinishedRequest, SeqRequest


def replay(profile: LatencyProfile, arrivals: Sequence[tuple[float, SeqRequest]]) -> list[FinishedRequest]:
    """Run arrivals `(time_s, request)`, sorted by time, through the engine in virtual time.

    Returns the finished requests in the order they finished.
    """
    results: list[FinishedRequest] = []
    clock = ManualClock(arrivals[0][0] if arrivals else 0.0)
    engine = Engine(profile, clock=clock, on_finished=results.append)
    i = 0
    while i < len(arrivals) or engine.has_work():
        while i < len(arrivals) and arrivals[i][0] <= clock.now_s:
            engine.submit(arrivals[i][1], arrival_s=arrivals[i][0])
            i += 1
        if not engine.has_work():
            clock.now_s = arrivals[i][0]
            continue
        step = engine.schedule()
        clock.now_s += step.duration_s
        engine.complete(step, clock.now_s)
    return results


def replay_closed(
    profile: LatencyProfile,
    requests: Sequence[SeqRequest],
    *,
    concurrency: int,
    client_delay_s: float = 1e-4,
) -> list[FinishedRequest]:
    """A closed loop in virtual time: `concurrency` clients, each sending its next request
    `client_delay_s` after its previous one finished (so, as on a real server, it joins at the
    next step, not the one already under way). Returns the requests in the order they finished.
    """
    results: list[FinishedRequest] = []
    clock = ManualClock()
    engine = Engine(profile, clock=clock, on_finished=results.append)
    pending = list(reversed(requests))
    due: list[float] = [0.0] * min(concurrency, len(pending))
    while due or engine.has_work():
        due.sort()
        while due and due[0] <= clock.now_s and pending:
            engine.submit(pending.pop(), arrival_s=due.pop(0))
        if not engine.has_work():
            if not (due and pending):
                break
            clock.now_s = due[0]
            continue
        seen = len(results)
        step = engine.schedule()
        clock.now_s += step.duration_s
        engine.complete(step, clock.now_s)
        due += [clock.now_s + client_delay_s for _ in results[seen:]]
    return results
