"""The Ollama chat backend for LLM intent extraction (implements planner.llm_intent.ChatBackend).

Uses the official `ollama` client: `Client(host=..., timeout=...)` and `chat(..., format=<JSON schema>,
options={"temperature": 0})`. Failures become `BackendError` with kind 'unreachable', 'timeout' or
'error', so the planner can fall back to the rule-based extractor and say why.
"""

from __future__ import annotations

from typing import Any

import httpx
import ollama

from planner.llm_intent import DEFAULT_TIMEOUT_S, BackendError

DEFAULT_MODEL = "llama3.1:8b"


class OllamaBackend:
    """Chat with an Ollama server through its /api/chat endpoint."""

    def __init__(self, host: str, model: str = DEFAULT_MODEL, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.host = host
        self.model = model
        self.timeout_s = timeout_s

    def chat(self, messages: list[dict[str, str]], *, schema: dict[str, Any], timeout_s: float) -> str:
        """The assistant's JSON text.

        Raises:
            BackendError: unreachable, timed out, or an HTTP error (e.g. the model is not pulled).
        """
        timeout = min(timeout_s, self.timeout_s)
        client = ollama.Client(host=self.host, timeout=timeout)
        try:
            response = client.chat(
                model=self.model, messages=messages, format=schema, options={"temperature": 0}, stream=False
            )
        except ConnectionError:
            raise BackendError("unreachable", f"cannot connect to Ollama at {self.host}") from None
        except httpx.TimeoutException:
            raise BackendError(
                "timeout", f"Ollama at {self.host} did not answer within {timeout:g} s"
            ) from None
        except ollama.ResponseError as exc:
            hint = f"; run `ollama pull {self.model}`" if exc.status_code == 404 else ""
            raise BackendError(
                "error", f"Ollama answered HTTP {exc.status_code}: {exc.error}{hint}"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendError("unreachable", f"Ollama at {self.host}: {exc}") from None
        return response.message.content or ""


def backend_from_env(environ: dict[str, str] | Any) -> OllamaBackend | None:
    """An Ollama backend when OLLAMA_HOST is set (and OLLAMA_MODEL, optionally), else None."""
    host = environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return None
    return OllamaBackend(host, model=environ.get("OLLAMA_MODEL", DEFAULT_MODEL) or DEFAULT_MODEL)
