"""A small HTTP client for model servers: JSON requests and server-sent-event streams.

Standard library only (``http.client``), over TCP or a Unix socket (``http+unix://`` with the
socket's path percent-encoded as the host, as requests-unixsocket spells it), so a kernel needs
no extra package to talk to a server. Every failure becomes a :class:`ServerError` whose message
names the URL and what to do; the API key is sent in a header and never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .store import ModelError


class ServerError(ModelError):
    """A model server cannot be reached, refused a request or sent something unreadable."""

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status, self.body = status, body


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (``smallcode serve``'s socket is the user's alone)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens: ``http(s)://host:port/prefix`` or ``http+unix://%2Fpath/prefix``."""

    url: str  # the base URL as the user gave it (no trailing slash), e.g. http://localhost:8080/v1
    timeout: float = 120.0  # seconds without a byte from the server before giving up
    api_key: str = ""  # sent as a bearer token; never shown
    key_env: str = ""  # the environment variable the key came from (named in 401/403 errors)

    @property
    def where(self) -> str:
        """The base URL for people: a Unix socket as ``unix:/path``."""
        parts = urlsplit(self.url)
        return f"unix:{unquote(parts.netloc)}" if parts.scheme == "http+unix" else self.url

    @property
    def root(self) -> str:
        """The server's root URL (the base without ``/v1``): where /props, /health, /api live."""
        return self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url

    def _connection(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "http+unix":
            return _UnixConnection(unquote(parts.netloc), timeout), path
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.netloc, timeout=timeout), path
        if parts.scheme == "http":
            return http.client.HTTPConnection(parts.netloc, timeout=timeout), path
        raise ServerError(f"unsupported URL scheme in {url!r}: use http://, https:// or http+unix://")

    def _headers(self, body: bool) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if body:
            h["Content-Type"] = "application/json"
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def open(
        self, method: str, url: str, body: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> http.client.HTTPResponse:
        """Send a request to the absolute ``url``; raises :class:`ServerError` unless it is 2xx."""
        conn, path = self._connection(url, timeout or self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, path, body=data, headers=self._headers(data is not None))
            resp = conn.getresponse()
        except TimeoutError as e:
            conn.close()
            raise ServerError(
                f"the model server at {self.url} did not answer within {timeout or self.timeout:g} s "
                "(raise the request_timeout trait, or check that the server is not stuck)"
            ) from e
        except OSError as e:
            conn.close()
            if url.startswith("http+unix://"):
                raise ServerError(
                    f"no smallcode service listens on {unquote(urlsplit(url).netloc)} ({e.strerror or e}). "
                    "Start one: `smallcode serve -m qwen2.5-coder-0.5b` (any model), then use --model serve"
                ) from e
            raise ServerError(
                f"no model server answers at {self.url} ({e.strerror or e}). Start it first, e.g. "
                "`smallcode serve -m qwen2.5-coder-0.5b`, `llama-server -m MODEL.gguf --port 8080`, "
                "`ollama serve`, or `vllm serve MODEL`; see docs/servers.md"
            ) from e
        if resp.status >= 400:
            text = resp.read(4096).decode("utf-8", "replace")
            conn.close()
            raise self._refused(method, url, resp.status, text)
        return resp

    def _refused(self, method: str, url: str, status: int, text: str) -> ServerError:
        if status in (401, 403):
            where = (
                f"the key in ${self.key_env} was refused"
                if self.api_key
                else f"no key was sent: put it in the environment variable ${self.key_env or 'SMALLCODE_API_KEY'}"
            )
            return ServerError(
                f"the model server at {self.url} refused the request ({status}): {where} "
                "(the api_key_env trait names the variable)",
                status,
                text,
            )
        detail = _error_detail(text)
        return ServerError(f"{method} {url} failed ({status}): {detail}", status, text)

    def get(self, path: str, timeout: float | None = None, root: bool = False) -> Any:
        """GET ``path`` (under the base URL, or under the server's root) as JSON."""
        url = (self.root if root else self.url) + path
        resp = self.open("GET", url, timeout=timeout)
        return _json(resp, url)

    def post(
        self, path: str, body: Mapping[str, Any], timeout: float | None = None, root: bool = False
    ) -> Any:
        """POST ``body`` to ``path`` and read the JSON reply."""
        url = (self.root if root else self.url) + path
        resp = self.open("POST", url, body, timeout=timeout)
        return _json(resp, url)

    def stream(
        self, path: str, body: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """POST ``body`` and yield each server-sent event's JSON until ``[DONE]``.

        A malformed event raises :class:`ServerError`; so does a stream that ends without
        ``[DONE]`` and without a finish reason (the caller checks the latter). Closing the
        generator (or ``cancel``) closes the connection, which stops generation on the server.
        """
        url = self.url + path
        resp = self.open("POST", url, body)
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                try:
                    raw = resp.readline()
                except TimeoutError as e:
                    raise ServerError(
                        f"the model server at {self.url} stopped sending for {self.timeout:g} s "
                        "(raise the request_timeout trait, or check the server)"
                    ) from e
                except (OSError, http.client.HTTPException) as e:
                    raise ServerError(f"the stream from {self.url} broke off: {e}") from e
                if not raw:
                    raise ServerError(f"the stream from {self.url} ended before the reply was complete")
                line = raw.decode("utf-8", "replace").strip()
                if not line or line.startswith(":") or not line.startswith("data:"):
                    continue  # keep-alive comments, event names, blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except json.JSONDecodeError as e:
                    raise ServerError(
                        f"the model server at {self.url} sent a malformed event: {data[:200]!r}"
                    ) from e
                if not isinstance(event, dict):
                    raise ServerError(
                        f"the model server at {self.url} sent a malformed event: {data[:200]!r}"
                    )
                if "error" in event:
                    raise ServerError(
                        f"the model server at {self.url} reported an error: {_error_detail(data)}"
                    )
                yield event
        finally:
            resp.close()


def _json(resp: http.client.HTTPResponse, url: str) -> Any:
    try:
        raw = resp.read()
    finally:
        resp.close()
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ServerError(f"{url} did not return JSON: {raw[:200]!r}") from e


def _error_detail(text: str) -> str:
    """The message inside an OpenAI-style error body, else the body's start."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return text.strip()[:300] or "(empty reply)"
    err = obj.get("error", obj) if isinstance(obj, dict) else obj
    if isinstance(err, dict):
        return str(err.get("message") or err.get("detail") or err)[:300]
    return str(err)[:300]
