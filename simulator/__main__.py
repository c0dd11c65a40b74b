"""`python -m simulator`: serve a simulated vLLM (the container entrypoint; needs no other predeploy part).

It takes vLLM's own flags where they mean something here (`--model`, `--served-model-name`,
`--port`, `--host`, `--max-model-len`, `--max-num-seqs`, `--max-num-batched-tokens`,
`--block-size`), so that a vLLM ServingRuntime can point at this image; other vLLM flags are
accepted and ignored with a note on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from simulator import aio
from simulator.config import (
    DEFAULT_PROFILE,
    Faults,
    LatencyProfile,
    ServerConfig,
    load_profile,
    profile_from_dict,
)
from simulator.errors import ProfileError, SimulatorError
from simulator.server import serve


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The options, and the unknown (vLLM) ones that are ignored."""
    p = argparse.ArgumentParser(prog="python -m simulator", description="A simulated vLLM server.")
    p.add_argument("--model", default="sim-model", help="model (the served name unless --served-model-name)")
    p.add_argument("--served-model-name", default=None, help="name clients use")
    p.add_argument("--profile", help="latency-profile JSON file (default: an 8B-on-H100-like profile)")
    p.add_argument("--profile-json", help="the latency profile as inline JSON")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--seed", type=int, default=0, help="seed for output lengths, text and faults")
    p.add_argument("--max-model-len", type=int, default=None, help="longest prompt + output, tokens")
    for name in ("max-num-seqs", "max-num-batched-tokens", "block-size"):
        p.add_argument(f"--{name}", type=int, default=None, help="overrides the profile's value")
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests answered with HTTP 500"
    )
    p.add_argument("--extra-latency-ms", type=float, default=0.0, help="delay added before queueing, ms")
    p.add_argument("--startup-delay-s", type=float, default=0.0, help="seconds /health answers 503 (loading)")
    args, unknown = p.parse_known_args(argv)
    return args, unknown


def _profile(args: argparse.Namespace) -> LatencyProfile:
    if args.profile and args.profile_json:
        raise ProfileError("give --profile FILE or --profile-json TEXT, not both")
    if args.profile_json:
        try:
            profile = profile_from_dict(json.loads(args.profile_json))
        except json.JSONDecodeError as exc:
            raise ProfileError(f"--profile-json is not JSON: {exc.msg}") from exc
    else:
        profile = load_profile(args.profile) if args.profile else DEFAULT_PROFILE
    overrides = {
        name: value
        for name in ("max_num_seqs", "max_num_batched_tokens", "block_size")
        if (value := getattr(args, name)) is not None
    }
    return dataclasses.replace(profile, **overrides) if overrides else profile


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Build the server configuration.

    Raises:
        SimulatorError: a bad profile or option value.
    """
    faults = Faults(
        error_rate=args.error_rate,
        extra_latency_ms=args.extra_latency_ms,
        startup_delay_s=args.startup_delay_s,
    )
    return ServerConfig(
        model_name=args.served_model_name or args.model,
        profile=_profile(args),
        faults=faults,
        seed=args.seed,
        max_model_len=args.max_model_len,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = parse_args(argv)
    if unknown:
        sys.stderr.write(f"note: ignoring options the simulator does not use: {' '.join(unknown)}\n")
    try:
        config = config_from_args(args)
    except SimulatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2

    def ready(port: int) -> None:
        sys.stderr.write(f"simulated vLLM serving {config.model_name!r} on http://{args.host}:{port}\n")
        sys.stderr.flush()

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
