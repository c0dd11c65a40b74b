"""Drive the real Bolt app the way Slack does: signed slash commands, clicks, modal submissions, events.

`SlackUser` builds the exact bodies Slack sends (form-encoded commands, `payload=` JSON for
interactions, JSON events), signs them with the signing secret, dispatches them to the app (or POSTs
them over HTTP), and reads the buttons the bot really posted from the stub's recorded calls.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier

from tests.bot.slack_stub import TEAM_ID, Call, SlackStub

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-1-test-token"
CHANNEL = "C1"


def signed_headers(
    body: str, *, content_type: str, secret: str = SECRET, retry: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()))
    headers = {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }
    if retry is not None:
        headers["x-slack-retry-num"] = str(retry)
        headers["x-slack-retry-reason"] = "http_timeout"
    return headers


def slash_body(text: str, *, user: str, channel: str = CHANNEL, response_url: str = "") -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "user_id": user,
            "command": "/predeploy",
            "text": text,
            "trigger_id": f"trig-{time.monotonic_ns()}",
            "response_url": response_url,
        }
    )


def event_body(event: dict[str, Any], *, event_id: str) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
        }
    )


def find_button(call: Call, action_id: str, *, contains: str = "") -> dict[str, Any]:
    """The button with this action_id in a posted message (whose value contains `contains`)."""
    for block in call.params.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id and contains in element.get("value", ""):
                return {"block_id": block["block_id"], **element}
    raise AssertionError(f"no {action_id} button in {json.dumps(call.params.get('blocks'))[:400]}")


@dataclass
class SlackUser:
    """One person clicking around in Slack, talking to one app."""

    app: App
    stub: SlackStub
    user: str = "U1"
    channel: str = CHANNEL
    http_url: str | None = None  # POST over HTTP instead of app.dispatch
    http: httpx.Client | None = None  # reuse connections (benchmarks)
    responses: list[BoltResponse] = field(default_factory=list)

    def send(
        self, body: str, *, content_type: str, retry: int | None = None, secret: str = SECRET
    ) -> BoltResponse:
        headers = signed_headers(body, content_type=content_type, retry=retry, secret=secret)
        if self.http_url:
            post = self.http.post if self.http is not None else httpx.post
            r = post(self.http_url, content=body.encode(), headers=headers, timeout=30)
            response = BoltResponse(status=r.status_code, body=r.text)
        else:
            request = BoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
            response = self.app.dispatch(request)
        self.responses.append(response)
        return response

    def thread_of(self, ts: str) -> str:
        """The thread of a message, as Slack puts it in `message.thread_ts` (updates carry none)."""
        for call in self.stub.of("chat.postMessage"):
            if call.ts == ts:
                return str(call.params.get("thread_ts") or ts)
        return ts

    def slash(self, text: str) -> BoltResponse:
        body = slash_body(
            text, user=self.user, channel=self.channel, response_url=self.stub.base_url + "/response"
        )
        return self.send(body, content_type="application/x-www-form-urlencoded")

    def interact(self, payload: dict[str, Any]) -> BoltResponse:
        body = urlencode({"payload": json.dumps(payload)})
        return self.send(body, content_type="application/x-www-form-urlencoded")

    def click(self, message: Call, action_id: str, *, contains: str = "") -> BoltResponse:
        """Click a button of a message the bot posted (or updated)."""
        button = find_button(message, action_id, contains=contains)
        ts = message.ts
        thread_ts = message.params.get("thread_ts") or self.thread_of(ts)
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": self.user},
            "api_app_id": "A1",
            "trigger_id": f"trig-{time.monotonic_ns()}",
            "channel": {"id": message.params["channel"]},
            "container": {"type": "message", "message_ts": ts, "channel_id": message.params["channel"]},
            "message": {"ts": ts, "thread_ts": thread_ts, "blocks": message.params.get("blocks")},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": button["block_id"],
                    "value": button["value"],
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.interact(payload)

    def submit(self, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> BoltResponse:
        """Submit a modal the bot opened, with `values` as view.state.values."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": self.user},
            "api_app_id": "A1",
            "trigger_id": f"trig-{time.monotonic_ns()}",
            "view": {**view, "state": {"values": values}},
        }
        return self.interact(payload)

    def say(
        self, text: str, *, ts: str, thread_ts: str | None = None, retry: int | None = None, im: bool = False
    ) -> BoltResponse:
        event = {
            "type": "message",
            "channel": self.channel,
            "channel_type": "im" if im else "channel",
            "user": self.user,
            "text": text,
            "ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.send(event_body(event, event_id=f"Ev{ts}"), content_type="application/json", retry=retry)

    def mention(
        self, text: str, *, ts: str, thread_ts: str | None = None, retry: int | None = None
    ) -> BoltResponse:
        event = {
            "type": "app_mention",
            "channel": self.channel,
            "user": self.user,
            "text": f"<@UBOT> {text}",
            "ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.send(event_body(event, event_id=f"Em{ts}"), content_type="application/json", retry=retry)
