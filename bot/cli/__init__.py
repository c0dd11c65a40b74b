"""The `predeploy` command line: one Typer app, one module per command group.

Each command module exposes `register(app)`. Command modules keep their heavy imports
inside the command functions so that `predeploy --help` and `predeploy plan` start fast.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "bot.cli.kb_cmd",  # kb init | list | show
    "bot.cli.predict_cmd",  # predict, validate, calibrate
    "bot.cli.plan_cmd",  # extract, plan, compare
    "bot.cli.sim_cmd",  # simulate, loadtest
    "bot.cli.deploy_cmd",  # render, deploy, undeploy
    "bot.cli.worker_cmd",  # worker, jobs
    "bot.cli.bot_cmd",  # bot, chat
    "bot.cli.observe_cmd",  # observe, outcomes
)


def build_cli() -> typer.Typer:
    """Assemble the Typer app from the command modules that are installed."""
    app = typer.Typer(
        name="predeploy",
        help="From 'we need an LLM for X' to a running, monitored KServe + vLLM deployment.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != name:
                raise
            continue
        module.register(app)
    return app


def main() -> None:
    build_cli()()
