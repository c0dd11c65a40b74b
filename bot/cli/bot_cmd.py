"""`predeploy bot` (the Slack app: HTTP or Socket Mode) and `predeploy chat` (the chat in a terminal)."""

from __future__ import annotations

import getpass
import logging
import sys
import uuid
from collections.abc import Iterator

import typer

from bot.cli.common import EXIT_ENVIRONMENT, fail, user_errors


def register(app: typer.Typer) -> None:
    app.command("bot")(bot)
    app.command("chat")(chat)


def bot(
    port: int = typer.Option(3000, "--port", help="HTTP port for /slack/events and /healthz"),
    host: str = typer.Option("0.0.0.0", "--host", help="interface to listen on"),
    socket: bool = typer.Option(False, "--socket", help="Socket Mode (needs SLACK_APP_TOKEN; no public URL)"),
) -> None:
    """Run the Slack bot (settings: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, DATABASE_URL, …; see README)."""
    from bot.app import SocketModeError, build_app, make_http_server, run_socket_mode
    from bot.settings import SettingsError, load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(socket_mode=socket)
    except SettingsError as exc:
        fail(str(exc))
    with user_errors():
        app = build_app(settings)
    if socket:
        typer.echo("predeploy bot: Socket Mode", err=True)
        try:
            run_socket_mode(app, settings.slack_app_token or "")
        except SocketModeError as exc:
            fail(str(exc), EXIT_ENVIRONMENT)
        except KeyboardInterrupt:
            pass
        return
    server = make_http_server(app, host=host, port=port)
    typer.echo(f"predeploy bot: listening on http://{host}:{server.server_port}/slack/events", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def chat(
    thread: str = typer.Option(
        "", "--thread", help="continue an earlier chat (its id is printed at the start)"
    ),
) -> None:
    """Plan a deployment in a conversation in the terminal (no Slack needed)."""
    import os

    from bot.cli.common import ready_engine
    from bot.conversation import Conversation, Services, find_thread, open_thread
    from bot.services import llm_extractor
    from bot.settings import parse_admins
    from bot.terminal import TerminalChat
    from kb.session import make_session_factory

    user = os.environ.get("USER") or getpass.getuser()
    with user_errors():
        extractor = llm_extractor(os.environ.get("OLLAMA_HOST"))  # None: the rule-based extractor
        services = Services(sessions=make_session_factory(ready_engine()), extractor=extractor)
        if thread:
            if find_thread(services, thread) is None:
                fail(f"no chat {thread!r} is stored in this database; start a new one without --thread")
            thread_id = thread
        else:
            thread_id = open_thread(
                services, team_id="cli", channel_id="terminal", thread_ts=uuid.uuid4().hex[:12], user_id=user
            ).id
    typer.echo(f"chat {thread_id} (continue later with: predeploy chat --thread {thread_id})")
    admins = parse_admins(os.environ.get("PREDEPLOY_ADMINS", ""))
    session = TerminalChat(
        Conversation(services, thread_id), user=user, is_admin=user in admins, write=typer.echo
    )
    session.run(_lines())


def _lines() -> Iterator[str]:
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("you> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return
        yield line
