"""`python -m simulator`: serve a simulated vLLM (the container entrypoint; needs no other predeploy part)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulator import aio
from simulator.config import DEFAULT_PROFILE, Faults, ServerConfig, load_profile
from simulator.errors import SimulatorError
from simulator.server import serve


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options, vLLM-like where vLLM has them."""
    p = argparse.ArgumentParser(prog="python -m simulator", description="A simulated vLLM server.")
    p.add_argument(
        "--model", "--served-model-name", dest="model", default="sim-model", help="served model name"
    )
    p.add_argument("--profile", help="latency-profile JSON file (default: an 8B-on-H100-like profile)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--seed", type=int, default=0, help="seed for output lengths, text and faults")
    p.add_argument("--max-model-len", type=int, default=None, help="longest prompt + output, tokens")
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests answered with HTTP 500"
    )
    p.add_argument("--extra-latency-ms", type=float, default=0.0, help="delay added before queueing, ms")
    p.add_argument("--startup-delay-s", type=float, default=0.0, help="seconds /health answers 503 (loading)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Build the server configuration.

    Raises:
        SimulatorError: a bad profile file or option value.
    """
    profile = load_profile(args.profile) if args.profile else DEFAULT_PROFILE
    faults = Faults(
        error_rate=args.error_rate,
        extra_latency_ms=args.extra_latency_ms,
        startup_delay_s=args.startup_delay_s,
    )
    return ServerConfig(
        model_name=args.model,
        profile=profile,
        faults=faults,
        seed=args.seed,
        max_model_len=args.max_model_len,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except SimulatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2

    def ready(port: int) -> None:
        sys.stderr.write(f"simulated vLLM serving {config.model_name!r} on http://{args.host}:{port}\n")

    try:
        aio.run(serve(config, host=args.host, port=args.port, on_ready=ready))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
