"""A small HTTP client for the virtual users: http.client, one connection per user.

Each request is timed from just before it is sent to the last byte of the body. Every request
goes out as a TLS-terminating proxy would forward it (``X-Forwarded-Proto: https``), because
the app runs with its production settings (HTTPS only, secure cookies).
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from html.parser import HTMLParser

from benchmarks.load.stats import Recorder, Sample

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    latency_s: float
    error: str


class Browser:
    """One virtual user: a connection to the app, its cookies and what its browser cached."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        recorder: Recorder | None = None,
        clock_zero: float = 0.0,
    ) -> None:
        self.host, self.port = host, port
        self.cookies = dict(cookies or {})
        self.headers = dict(headers or {})
        self.recorder = recorder
        self.clock_zero = clock_zero
        self.cached: set[str] = set()  # static URLs this browser already holds
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> Response:
        """Send one request, record it under ``kind`` and return it; never raises."""
        headers = {
            "Host": f"{self.host}:{self.port}",
            "X-Forwarded-Proto": "https",
            "Accept-Encoding": "gzip",
            **self.headers,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        start = time.perf_counter()
        status, data, error = 0, b"", ""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                status = reply.status
                self._keep_cookies(reply.headers.get_all("Set-Cookie") or [])
                if reply.will_close:
                    self.close()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A kept-alive connection the server had closed: reconnect once (a browser
                # does the same); a second failure is an error.
                self.close()
                if attempt == 2:
                    error = type(exc).__name__
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                error = type(exc).__name__
                break
        latency = time.perf_counter() - start
        if not error and status not in ok:
            error = f"HTTP {status}"
        if self.recorder is not None:
            self.recorder.add(Sample(kind, start - self.clock_zero, latency, status, error))
        return Response(status, data, latency, error)

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            name, _, rest = header.partition("=")
            if name.strip():
                self.cookies[name.strip()] = rest.split(";", 1)[0]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = None
        if tag == "script":
            url = values.get("src")
        elif tag == "link" and (values.get("rel") or "") in {"stylesheet", "icon", "preload"}:
            url = values.get("href")
        elif tag == "img":
            url = values.get("src")
        if url and url.startswith("/") and not url.startswith("//") and url not in self.urls:
            self.urls.append(url)


def page_assets(html: bytes) -> list[str]:
    """Same-origin scripts, stylesheets and images a browser loads with this page, in order."""
    parser = _Assets()
    parser.feed(html.decode("utf-8", errors="replace"))
    return parser.urls
