"""Posting from jobs: a WebClient from the settings, thread posts, in-place updates, progress, images.

Messages are built by `bot.blocks`; this module only sends them.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient

from bot import blocks
from workers.settings import WorkerSettings

logger = logging.getLogger(__name__)

Message = dict[str, Any]


class SlackNotConfiguredError(Exception):
    """A job must post to Slack but SLACK_BOT_TOKEN is not set."""


def slack_client(settings: WorkerSettings) -> WebClient:
    """A Web API client with the bot token, talking to SLACK_API_URL (Slack's by default).

    Raises:
        SlackNotConfiguredError: no bot token in the settings.
    """
    if not settings.slack_bot_token:
        raise SlackNotConfiguredError("SLACK_BOT_TOKEN is not set for the worker; it cannot post to Slack.")
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url or WebClient.BASE_URL)


def new_ref() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class ThreadPoster:
    """Posts into one Slack thread."""

    client: WebClient
    channel: str
    thread_ts: str

    def post(self, message: Message) -> str:
        response = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, **message)
        return str(response["ts"])

    def update(self, ts: str, message: Message) -> None:
        self.client.chat_update(channel=self.channel, ts=ts, **message)

    def upload_png(self, png: bytes, *, filename: str, title: str) -> None:
        """Upload an image into the thread (getUploadURLExternal, the upload, completeUploadExternal)."""
        self.client.files_upload_v2(
            channel=self.channel, thread_ts=self.thread_ts, content=png, filename=filename, title=title
        )


@dataclass
class ProgressMessage:
    """One message updated in place as a job goes ("Planning… 3 of 5 models"), at most every `every_s`."""

    poster: ThreadPoster
    ts: str
    every_s: float = 0.5
    _last: float = field(default=0.0, repr=False)

    @classmethod
    def start(cls, poster: ThreadPoster, text: str, *, ts: str = "", every_s: float = 0.5) -> ProgressMessage:
        """Reuse the message `ts` when given, else post a new one."""
        message = blocks.progress_message(text)
        if ts:
            poster.update(ts, message)
        else:
            ts = poster.post(message)
        return cls(poster, ts, every_s=every_s, _last=time.monotonic())

    def step(self, done: int, total: int, what: str) -> None:
        """ "Planning… 3 of 42 models: Llama-3.1-8B-Instruct on H100-SXM"; the last step always shows."""
        self.show(blocks.planning_progress(done, total, what), force=done >= total)

    def show(self, text: str, *, force: bool = False) -> None:
        """Replace the message's text, unless the last edit was under `every_s` ago (and not `force`)."""
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        self.poster.update(self.ts, blocks.progress_message(text))

    def finish(self, message: Message) -> None:
        self.poster.update(self.ts, message)
