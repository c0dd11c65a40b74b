"""vLLM's Prometheus metrics for the simulator, written in the text exposition format (version 0.0.4).

Names, label names and default buckets follow vLLM 0.33 (`vllm/v1/metrics/loggers.py`); every
series carries `model_name` (the served model name) and `engine` ("0").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.engine import Engine
from simulator.seq import FinishedRequest

TTFT_BUCKETS_S = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0),
    *(2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0),
)
ITL_BUCKETS_S = (
    *(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0),
    *(2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0),
)
REQUEST_LATENCY_BUCKETS_S = (
    *(0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0),
    *(120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0),
)
FINISHED_REASONS = ("stop", "length", "abort", "error")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def token_buckets(max_model_len: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 buckets up to max_model_len, for the per-request token-count histograms."""
    out: list[float] = []
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale > max_model_len:
                return tuple(out)
            out.append(float(m * scale))
        scale *= 10


class Histogram:
    """A cumulative histogram with fixed upper bounds (`le`)."""

    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1


@dataclass(frozen=True)
class _Family:
    name: str
    help: str
    bounds: tuple[float, ...]


_REQ = REQUEST_LATENCY_BUCKETS_S
LATENCY_FAMILIES = (
    _Family(
        "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS_S
    ),
    _Family(
        "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS_S
    ),
    _Family("vllm:request_time_per_output_token_seconds", "Histogram of TPOT per request.", ITL_BUCKETS_S),
    _Family("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", _REQ),
    _Family("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase.", _REQ),
    _Family("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase.", _REQ),
    _Family("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase.", _REQ),
    _Family("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase.", _REQ),
)
_GAUGES = (
    ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."),
    ("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage."),
    ("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed."),
    ("vllm:generation_tokens_total", "counter", "Number of generation tokens processed."),
    ("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine."),
    ("simulator_steps_total", "counter", "Engine steps run (simulator only)."),
    (
        "simulator_late_steps_total",
        "counter",
        "Steps that ended >2 ms after their deadline (simulator only).",
    ),
    ("simulator_step_lag_seconds_total", "counter", "Total lateness of late steps, s (simulator only)."),
)


def _fmt(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


class Metrics:
    """The counters and histograms of one served model; gauges are read from the engine at scrape time."""

    def __init__(self, model_name: str, *, max_model_len: int) -> None:
        escaped = model_name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        self._labels = f'engine="0",model_name="{escaped}"'
        self.latency = {f.name: Histogram(f.bounds) for f in LATENCY_FAMILIES}
        buckets = token_buckets(max_model_len)
        self.prompt_tokens = Histogram(buckets)
        self.generation_tokens = Histogram(buckets)
        self.finished = dict.fromkeys(FINISHED_REASONS, 0)

    def record(self, result: FinishedRequest) -> None:
        """Observe a finished (or aborted) request."""
        self.finished[result.finished_reason] = self.finished.get(result.finished_reason, 0) + 1
        h = self.latency
        times = result.token_times_s
        if result.finished_reason != "abort" and times:
            h["vllm:time_to_first_token_seconds"].observe(times[0] - result.arrival_s)
            itl = h["vllm:inter_token_latency_seconds"]
            for i in range(1, len(times)):
                itl.observe(times[i] - times[i - 1])
            if len(times) > 1:
                h["vllm:request_time_per_output_token_seconds"].observe(
                    (times[-1] - times[0]) / (len(times) - 1)
                )
            h["vllm:e2e_request_latency_seconds"].observe(result.e2e_s)
            scheduled = result.scheduled_s if result.scheduled_s is not None else result.arrival_s
            h["vllm:request_queue_time_seconds"].observe(scheduled - result.arrival_s)
            h["vllm:request_inference_time_seconds"].observe(result.finish_s - scheduled)
            h["vllm:request_prefill_time_seconds"].observe(times[0] - scheduled)
            h["vllm:request_decode_time_seconds"].observe(result.finish_s - times[0])
            self.prompt_tokens.observe(result.prompt_tokens)
            self.generation_tokens.observe(result.output_tokens)

    def record_error(self) -> None:
        """Count a request answered with an error (an injected fault)."""
        self.finished["error"] += 1

    def render(self, engine: Engine) -> str:
        """The whole exposition, gauges taken from the engine now."""
        lines: list[str] = []
        values = (
            engine.num_running,
            engine.num_waiting,
            engine.kv_cache_usage,
            engine.prompt_tokens_total,
            engine.generation_tokens_total,
            engine.preemptions_total,
            engine.steps_total,
            engine.late_steps_total,
            engine.lag_s_total,
        )
        for (name, kind, text), value in zip(_GAUGES, values, strict=True):
            lines += [
                f"# HELP {name} {text}",
                f"# TYPE {name} {kind}",
                f"{name}{{{self._labels}}} {_fmt(value)}",
            ]
        name = "vllm:request_success_total"
        lines += [f"# HELP {name} Count of successfully processed requests.", f"# TYPE {name} counter"]
        for reason, count in self.finished.items():
            lines.append(f'{name}{{{self._labels},finished_reason="{reason}"}} {_fmt(count)}')
        for family in LATENCY_FAMILIES:
            self._histogram(lines, family.name, family.help, self.latency[family.name])
        self._histogram(
            lines, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", self.prompt_tokens
        )
        self._histogram(
            lines,
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            self.generation_tokens,
        )
        return "\n".join(lines) + "\n"

    def _histogram(self, lines: list[str], name: str, text: str, h: Histogram) -> None:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip((*h.bounds, float("inf")), h.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{self._labels},le="{_fmt(bound)}"}} {_fmt(cumulative)}')
        lines.append(f"{name}_count{{{self._labels}}} {_fmt(h.count)}")
        lines.append(f"{name}_sum{{{self._labels}}} {_fmt(h.sum)}")
