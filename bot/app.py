"""The Slack app: `build_app(settings)`, `register_listeners(app)`, and the HTTP and Socket Mode runners.

HTTP mode serves `/slack/events` (commands, interactivity and events) through Bolt's WSGI adapter on
a threaded stdlib server, plus `/healthz`. Socket Mode needs only SLACK_APP_TOKEN.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltContext
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services, open_services
from bot.settings import BotSettings
from workers.settings import WorkerSettings

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

logger = logging.getLogger(__name__)
LISTENER_THREADS = 64
WORK_THREADS = 4


def worker_settings_for(settings: BotSettings) -> WorkerSettings:
    """The job system's settings as the bot sees them (the same database, token and Web API)."""
    return WorkerSettings(
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        slack_bot_token=settings.slack_bot_token,
        slack_api_url=settings.slack_api_url,
        ollama_host=settings.ollama_host,
    )


def build_app(settings: BotSettings, *, services: Services | None = None) -> App:
    """A Bolt app with every listener registered and the conversation services in each context."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url or WebClient.BASE_URL)
    # Listeners ack first and then work (post, store, extract); a pool larger than Bolt's default 10
    # keeps a burst of requests from queueing behind that work, so every ack leaves within milliseconds.
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "socket-mode",
        logger=logger,
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"),
    )
    services = services or open_services(settings.database_url)
    jobs = worker_settings_for(settings)
    work = ThreadPoolExecutor(max_workers=WORK_THREADS, thread_name_prefix="work")

    @app.middleware
    def inject(context: BoltContext, next: Callable[[], Any]) -> Any:  # noqa: A002 (Bolt's argument name)
        context["services"] = services
        context["settings"] = settings
        context["jobs"] = jobs
        context["work"] = work
        return next()

    register_listeners(app)
    return app


def register_listeners(app: App) -> None:
    from bot.listeners import actions, commands, events, views

    for group in (commands, actions, views, events):
        group.register(app)

    @app.error
    def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        """Anything a listener did not handle: logged with its traceback, reported where it happened."""
        from bot.listeners.common import report_error

        channel, thread_ts = where(body)
        if channel:
            report_error(client, channel=channel, thread_ts=thread_ts, exc=error)
        else:
            logger.error(
                "unhandled error for a %s request", body.get("type", "slash command"), exc_info=error
            )


def where(body: dict[str, Any]) -> tuple[str, str | None]:
    """(channel, thread_ts) of a request: an event, a click on a message, or a slash command."""
    event = body.get("event") or {}
    if event.get("channel"):
        return event["channel"], event.get("thread_ts") or event.get("ts")
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id") or ""
    return channel, message.get("thread_ts") or message.get("ts")


# --- HTTP mode ------------------------------------------------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops bursts of Slack deliveries


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("http: " + format, *args)


def wsgi_app(app: App) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """`/slack/events` through Bolt, `/healthz` answered here."""
    slack = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return slack(environ, start_response)

    return application


def make_http_server(app: App, *, host: str = "0.0.0.0", port: int = 3000) -> WSGIServer:
    """A threaded HTTP server for the app (port 0 picks a free one); call `serve_forever()`."""
    return make_server(
        host, port, wsgi_app(app), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )


# --- Socket Mode ----------------------------------------------------------------------------------
# slack_sdk's built-in client notices a dead connection only through its pings: a close frame at the
# next ping, a socket closed without one after five failed pings (spinning on the closed socket until
# then). Bolt's 10 s interval left the bot deaf for ~10 s and ~60 s; the client's own default of 5 s
# halves that. tests/bot/test_socket_mode.py measures both.
SOCKET_PING_INTERVAL_S = 5.0


class SocketModeError(Exception):
    """Socket Mode could not connect; the message says why and what to do."""


def connect_socket_mode(
    app: App, app_token: str, *, ping_interval_s: float = SOCKET_PING_INTERVAL_S
) -> SocketModeHandler:
    """Open a Socket Mode connection for the app (apps.connections.open on the app's Web API client,
    then the WebSocket); the caller closes the returned handler.

    Raises:
        SocketModeError: Slack refused the app-level token, or the Web API or WebSocket is unreachable.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token, ping_interval=ping_interval_s)
    api = app.client.base_url
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        error = exc.response.get("error")
        raise SocketModeError(
            f"Slack refused SLACK_APP_TOKEN ({app_token[:9]}…) when opening a Socket Mode connection "
            f"(apps.connections.open at {api}: {error}). Create an app-level token with the "
            "connections:write scope (your app's Basic Information page, App-Level Tokens), set "
            "SLACK_APP_TOKEN to it, and turn Socket Mode on in the app's settings."
        ) from exc
    except OSError as exc:
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeError(
            f"cannot reach Slack's Web API at {api} to open a Socket Mode connection ({exc}); "
            "check the network, the proxy (HTTPS_PROXY) or SLACK_API_URL."
        ) from exc
    if not handler.client.is_connected():
        handler.close()  # type: ignore[no-untyped-call]
        raise SocketModeError(
            f"Slack handed out a Socket Mode URL but the WebSocket to {handler.client.wss_uri} "
            "did not open (see the log above); check the network and proxy, then start again."
        )
    return handler


def run_socket_mode(
    app: App,
    app_token: str,
    *,
    stop: threading.Event | None = None,
    ping_interval_s: float = SOCKET_PING_INTERVAL_S,
) -> None:
    """Serve the app over Socket Mode until `stop` is set (forever without one); reconnects on its own.

    Raises:
        SocketModeError: the first connection could not be opened (see connect_socket_mode).
    """
    handler = connect_socket_mode(app, app_token, ping_interval_s=ping_interval_s)
    logger.info("Socket Mode: connected, waiting for Slack's requests")
    try:
        (stop or threading.Event()).wait()
    finally:
        handler.close()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    from bot.settings import load_settings

    logging.basicConfig(level=logging.INFO)
    bot_settings = load_settings(socket_mode=True)
    run_socket_mode(build_app(bot_settings), bot_settings.slack_app_token or "")
