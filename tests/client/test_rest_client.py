"""The one REST client under the CLI and the Python client: environment, retries, errors.

A server that is not listening yet (a replica restarting, a laptop that just ran
``make run``) is retried with back-off; an error answer becomes a ``StewardError`` with
the server's code and request id. The peer here is a few lines of ``http.server`` that
start listening late or answer an error, since the behaviour under test is the client's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry.client.errors import StewardError
from registry.client.http import RestClient
from tests.support import free_port


class Answer(BaseHTTPRequestHandler):
    """``/ok`` answers ``{"ok": true}``; anything else a 404 in Steward's error shape."""

    def do_GET(self) -> None:
        if self.path.startswith("/ok"):
            self.reply(200, {"ok": True, "auth": self.headers.get("Authorization")})
        else:
            self.reply(
                404,
                {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": "no such thing",
                    "request_id": "r-1",
                },
            )

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


def serve_after(port: int, delay: float) -> tuple[threading.Thread, list[ThreadingHTTPServer]]:
    started: list[ThreadingHTTPServer] = []

    def run() -> None:
        time.sleep(delay)
        server = ThreadingHTTPServer(("127.0.0.1", port), Answer)
        started.append(server)
        server.serve_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, started


@pytest.fixture
def late_port() -> Iterator[tuple[int, list[ThreadingHTTPServer]]]:
    """A port nothing listens on for the first 0.3 s."""
    port = free_port()
    _thread, started = serve_after(port, 0.3)
    yield port, started
    for server in started:
        server.shutdown()
        server.server_close()


def test_a_server_that_starts_late_is_reached_by_retrying(
    late_port: tuple[int, list[ThreadingHTTPServer]],
) -> None:
    port, _ = late_port
    with RestClient(f"http://127.0.0.1:{port}", "dapi-secret") as client:
        assert client.get("/ok") == {"ok": True, "auth": "Bearer dapi-secret"}


def test_without_retries_the_same_server_is_unreachable(
    late_port: tuple[int, list[ThreadingHTTPServer]],
) -> None:
    """The control: what the retries above are for."""
    port, _ = late_port
    with (
        RestClient(f"http://127.0.0.1:{port}", "t", retries=0) as client,
        pytest.raises(StewardError, match="cannot reach Steward") as failed,
    ):
        client.get("/ok")
    assert failed.value.error_code == "UNAVAILABLE"


def test_url_and_token_come_from_the_environment(
    late_port: tuple[int, list[ThreadingHTTPServer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, _ = late_port
    monkeypatch.setenv("STEWARD_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("STEWARD_TOKEN", "dapi-from-env")
    with RestClient() as client:
        assert client.url == f"http://127.0.0.1:{port}"
        assert client.get("/ok")["auth"] == "Bearer dapi-from-env"


def test_an_error_answer_keeps_the_servers_code_and_request_id(
    late_port: tuple[int, list[ThreadingHTTPServer]],
) -> None:
    port, _ = late_port
    with (
        RestClient(f"http://127.0.0.1:{port}", "t") as client,
        pytest.raises(StewardError) as failed,
    ):
        client.get("/missing")
    error = failed.value
    assert (error.error_code, error.status_code, error.request_id) == (
        "RESOURCE_DOES_NOT_EXIST",
        404,
        "r-1",
    )
    assert str(error) == "RESOURCE_DOES_NOT_EXIST: no such thing (HTTP 404)"
