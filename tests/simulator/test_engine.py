"""The engine in virtual time: a fixed profile, a manual clock, no sleeping."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from simulator.clock import ManualClock
from simulator.config import LatencyProfile
from simulator.engine import Engine
from simulator.latency import decode_itl_ms, solo_prefill_ms, step_time_ms
from simulator.replay import replay, replay_closed
from simulator.seq import FinishedRequest, SeqRequest

PROFILE = LatencyProfile(
    step_overhead_ms=1.0,
    weights_read_ms=5.0,
    kv_read_ms_per_1k_tokens=0.1,
    compute_ms_per_token=0.05,
    attn_ms_per_1m_token_pairs=1.0,
    kv_cache_tokens=100_000,
    max_num_seqs=64,
    max_num_batched_tokens=512,
    block_size=16,
)


def req(i: int, prompt: int = 100, out: int = 20, max_tokens: int | None = None) -> SeqRequest:
    return SeqRequest(f"r{i}", prompt_tokens=prompt, output_tokens=out, max_tokens=max_tokens or out)


def mean_ttft_itl(results: list[FinishedRequest]) -> tuple[float, float]:
    ttft = statistics.mean(r.ttft_s for r in results if r.ttft_s is not None)
    itl = statistics.mean(g for r in results for g in r.itls_s)
    return ttft, itl


def test_lone_request_matches_the_profile_formula() -> None:
    [r] = replay(PROFILE, [(0.0, req(0, prompt=100, out=5))])
    assert r.ttft_s == pytest.approx(solo_prefill_ms(PROFILE, 100) / 1000)
    # decode step i has context 100 + i (the token sampled in the previous step enters the KV)
    expected = [
        step_time_ms(PROFILE, batched_tokens=1, kv_tokens_read=c, token_pairs=c) / 1000 for c in (101, 102)
    ]
    assert r.itls_s[:2] == pytest.approx(expected)
    assert r.output_tokens == 5 and r.finished_reason == "length"


def test_max_tokens_honoured_and_stop_reason() -> None:
    results = replay(PROFILE, [(0.0, req(0, out=7)), (0.0, req(1, out=3, max_tokens=50))])
    by_id = {r.request_id: r for r in results}
    assert by_id["r0"].output_tokens == 7 and by_id["r0"].finished_reason == "length"
    assert by_id["r1"].output_tokens == 3 and by_id["r1"].finished_reason == "stop"


@pytest.mark.parametrize("low,high", [(2, 32)])
def test_ttft_and_itl_rise_with_load(low: int, high: int) -> None:
    def run(concurrency: int) -> tuple[float, float]:
        return mean_ttft_itl(replay(PROFILE, [(0.0, req(i, prompt=400, out=50)) for i in range(concurrency)]))

    ttft_low, itl_low = run(low)
    ttft_high, itl_high = run(high)
    assert ttft_high > 3 * ttft_low
    assert itl_high > itl_low
    assert itl_low == pytest.approx(
        decode_itl_ms(PROFILE, batch_size=low, mean_context_len=425) / 1000, rel=0.1
    )


def test_chunked_prefill_splits_long_prompts_and_interleaves_decodes() -> None:
    clock = ManualClock()
    engine = Engine(PROFILE, clock=clock)
    engine.submit(req(0, prompt=10, out=100))
    step = engine.schedule()
    clock.now_s += step.duration_s
    engine.complete(step, clock.now_s)  # r0 prefilled, first token out
    engine.submit(req(1, prompt=1200, out=5))
    chunks = []
    for _ in range(3):
        step = engine.schedule()
        chunks.append([n for _, n in step.work])
        clock.now_s += step.duration_s
        engine.complete(step, clock.now_s)
    # decode of r0 first (1 token), then r1's prompt in chunks within the 512-token budget
    assert chunks == [[1, 511], [1, 511], [1, 178]]


def test_kv_cache_full_makes_requests_wait() -> None:
    small = LatencyProfile(**{**PROFILE.to_dict(), "kv_cache_tokens": 1024})
    clock = ManualClock()
    engine = Engine(small, clock=clock)
    for i in range(4):
        engine.submit(req(i, prompt=400, out=10))
    step = engine.schedule()
    assert [n for _, n in step.work] == [400, 112]  # the 512-token budget: all of r0, a chunk of r1
    clock.now_s += step.duration_s
    engine.complete(step, clock.now_s)
    step = engine.schedule()
    # r0 decodes, r1 finishes its prompt (51 of 64 blocks); r2's 223-token chunk needs 14 more: it waits
    assert [n for _, n in step.work] == [1, 288]
    assert engine.num_running == 2 and engine.num_waiting == 2
    assert engine.kv_cache_usage == pytest.approx(51 / 64)
    results = replay(small, [(0.0, req(i, prompt=400, out=10)) for i in range(4)])
    starts = sorted(r.scheduled_s or 0.0 for r in results)
    assert starts[2] > starts[0]  # the third request waited for a finished one to free blocks
    assert len(results) == 4 and all(r.output_tokens == 10 for r in results)


def test_preemption_when_decodes_run_out_of_blocks() -> None:
    tight = LatencyProfile(**{**PROFILE.to_dict(), "kv_cache_tokens": 256})
    clock = ManualClock()
    engine = Engine(tight, clock=clock, on_finished=None)
    results: list[FinishedRequest] = []
    engine = Engine(tight, clock=clock, on_finished=results.append)
    for i in range(2):
        engine.submit(req(i, prompt=100, out=60))
    while engine.has_work():
        step = engine.schedule()
        clock.now_s += step.duration_s
        engine.complete(step, clock.now_s)
    assert engine.preemptions_total >= 1
    assert sorted(r.output_tokens for r in results) == [60, 60]


def test_max_num_seqs_caps_the_batch() -> None:
    capped = LatencyProfile(**{**PROFILE.to_dict(), "max_num_seqs": 4})
    engine = Engine(capped, clock=ManualClock())
    for i in range(10):
        engine.submit(req(i, prompt=10))
    engine.schedule()
    assert engine.num_running == 4 and engine.num_waiting == 6


def test_abort_frees_blocks_and_reports() -> None:
    results: list[FinishedRequest] = []
    engine = Engine(PROFILE, clock=ManualClock(), on_finished=results.append)
    engine.submit(req(0))
    engine.submit(req(1))
    engine.schedule()
    engine.abort("r0")
    engine.abort("r1")
    engine.abort("nope")
    assert engine.kv_cache_usage == 0.0 and not engine.has_work()
    assert [r.finished_reason for r in results] == ["abort", "abort"]


def test_request_larger_than_cache_is_refused() -> None:
    engine = Engine(PROFILE, clock=ManualClock())
    with pytest.raises(ValueError, match="KV cache"):
        engine.submit(req(0, prompt=99_000, out=2_000))


def test_run_loop_on_a_manual_clock() -> None:
    class Sink:
        def __init__(self) -> None:
            self.times: list[float] = []
            self.done = asyncio.Event()

        def on_token(self, now_s: float) -> None:
            self.times.append(now_s)

        def on_finish(self, result: FinishedRequest) -> None:
            self.done.set()

    async def main() -> list[float]:
        engine = Engine(PROFILE, clock=ManualClock())
        task = asyncio.create_task(engine.run())
        sink = Sink()
        await asyncio.sleep(0)
        engine.submit(req(0, prompt=100, out=4), sink)
        await asyncio.wait_for(sink.done.wait(), 5)
        task.cancel()
        return sink.times

    times = asyncio.run(main())
    [expected] = replay(PROFILE, [(0.0, req(0, prompt=100, out=4))])
    assert [t - times[0] for t in times] == pytest.approx(
        [t - expected.token_times_s[0] for t in expected.token_times_s]
    )
    assert times[0] == pytest.approx(expected.ttft_s)


def test_closed_loop_replay_keeps_the_concurrency() -> None:
    reqs = [req(i, prompt=50, out=10) for i in range(12)]
    results = replay_closed(PROFILE, reqs, concurrency=3)
    assert sorted(r.request_id for r in results) == sorted(r.request_id for r in reqs)
    starts = sorted(r.arrival_s for r in results)
    assert starts[:3] == [0.0, 0.0, 0.0] and starts[3] > 0
    # never more than 3 requests in the system at once
    for r in results:
        overlapping = [o for o in results if o.arrival_s <= r.arrival_s < o.finish_s]
        assert len(overlapping) <= 3


def test_a_hybrid_state_holds_blocks_for_every_running_sequence() -> None:
    """With 20 blocks of fixed state per sequence, 64 blocks hold one 400-token prompt (25 + 20
    blocks) instead of two, and a request that fits only without its state is refused."""
    plain = LatencyProfile(**{**PROFILE.to_dict(), "kv_cache_tokens": 1024, "max_num_batched_tokens": 2048})
    hybrid = LatencyProfile(**{**plain.to_dict(), "state_blocks_per_seq": 20})
    running = {}
    for name, prof in (("plain", plain), ("hybrid", hybrid)):
        engine = Engine(prof, clock=ManualClock())
        for i in range(4):
            engine.submit(req(i, prompt=400, out=10))
        engine.schedule()
        running[name] = (engine.num_running, engine.kv_cache_usage)
    assert running["plain"] == (2, pytest.approx(50 / 64))  # the third prompt's 25 blocks wait
    assert running["hybrid"] == (1, pytest.approx(45 / 64))
    with pytest.raises(ValueError, match="fixed state"):
        Engine(hybrid, clock=ManualClock()).submit(req(9, prompt=900, out=10))
    Engine(plain, clock=ManualClock()).submit(req(9, prompt=900, out=10))  # fits without the state
