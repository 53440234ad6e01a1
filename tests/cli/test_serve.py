"""`lyrics-tui --serve` admits only who holds its address: every request without the token, or
with a wrong one, is refused with 403 before any playground process starts."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

pytest.importorskip("textual_serve")

from aiohttp import ClientSession, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from lyrics_tui.tui import serving
from lyrics_tui.tui.cli import main
from tests.helpers import free_port, poll

TOKEN = "k3y-0f_the-playground-9sQwT2vXb7LmN4pR"  # fixed, so that test names are stable


@pytest.fixture
def app_services(monkeypatch) -> list:
    """Every playground process the server starts (textual-serve's AppService), recorded."""
    import textual_serve.server

    started: list = []

    class Recorded(textual_serve.server.AppService):
        async def start(self, width: int, height: int) -> None:
            started.append(self)
            await super().start(width, height)

    monkeypatch.setattr(textual_serve.server, "AppService", Recorded)
    return started


async def until(condition, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def with_client(server: serving.TokenServer, check) -> None:
    """Run `check(client)` against the server's aiohttp application, in this process."""

    async def go() -> None:
        client = TestClient(TestServer(await server._make_app()))
        await client.start_server()
        try:
            await check(client)
        finally:
            await client.close()

    asyncio.run(go())


def marker_server(tmp_path, token: str | None) -> tuple[serving.TokenServer, object]:
    """A server whose "playground" is a command that leaves a file: proof a process started."""
    marker = tmp_path / "started"
    command = shlex.join([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    return serving.TokenServer(command, host="127.0.0.1", port=8000, token=token, title="t"), marker


async def status_of_websocket(client: TestClient, path: str) -> int:
    try:
        ws = await client.ws_connect(path)
    except WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


@pytest.mark.parametrize("path", ["/", "/index.html", "/wrong/", f"/{TOKEN}x/", f"/{TOKEN[:-1]}/"])
def test_the_page_without_the_token_or_with_a_wrong_one_is_refused(tmp_path, path, app_services):
    server, marker = marker_server(tmp_path, TOKEN)

    async def check(client: TestClient) -> None:
        response = await client.get(path)
        assert response.status == 403
        assert "token" in await response.text()
        assert TOKEN not in await response.text()
        static = await client.get(path.rstrip("/") + "/static/js/textual.js")
        assert static.status == 403

    with_client(server, check)
    assert not marker.exists() and not app_services


@pytest.mark.parametrize("path", ["/ws", "/wrong/ws", f"/{TOKEN.upper()}/ws", f"/x/{TOKEN}/ws"])
def test_the_websocket_without_the_token_or_with_a_wrong_one_is_refused_and_starts_nothing(
    tmp_path, path, app_services
):
    server, marker = marker_server(tmp_path, TOKEN)

    async def check(client: TestClient) -> None:
        assert await status_of_websocket(client, path) == 403
        assert await status_of_websocket(client, path + f"?token={TOKEN}") == 403

    with_client(server, check)
    assert not marker.exists() and not app_services


def test_the_right_token_serves_the_page_and_its_websocket_starts_the_playground(
    tmp_path, app_services
):
    server, marker = marker_server(tmp_path, TOKEN)

    async def check(client: TestClient) -> None:
        page = await client.get(f"/{TOKEN}/")
        assert page.status == 200
        html = await page.text()
        # the page's own addresses carry the token: its script, and the websocket it opens
        assert f'data-session-websocket-url="ws://127.0.0.1:8000/{TOKEN}/ws"' in html
        assert f"http://127.0.0.1:8000/{TOKEN}/static/js/textual.js" in html
        assert (await client.get(f"/{TOKEN}/static/js/textual.js")).status == 200
        bare = await client.get(f"/{TOKEN}", allow_redirects=False)
        assert bare.status == 302 and bare.headers["Location"] == server.url
        ws = await client.ws_connect(f"/{TOKEN}/ws?width=80&height=24")
        await until(marker.exists, timeout=20)
        await ws.close()
        # its end awaited here, so that its pipes are closed before this event loop is
        await asyncio.wait_for(app_services[0]._process.wait(), timeout=20)

    with_client(server, check)
    assert len(app_services) == 1
    assert server.url == f"http://127.0.0.1:8000/{TOKEN}/"


def test_no_token_serves_everyone(tmp_path):
    server, _ = marker_server(tmp_path, None)

    async def check(client: TestClient) -> None:
        assert (await client.get("/")).status == 200

    with_client(server, check)
    assert server.url == "http://127.0.0.1:8000/"


def test_loopback_addresses():
    assert serving.is_loopback("127.0.0.1") and serving.is_loopback("::1")
    assert serving.is_loopback("localhost") and serving.is_loopback("127.0.0.2")
    assert not serving.is_loopback("0.0.0.0") and not serving.is_loopback("::")
    assert not serving.is_loopback("192.0.2.7")
    assert not serving.is_loopback("no-such-host.invalid")


def test_a_host_that_is_not_loopback_is_warned_about(monkeypatch, capsys):
    served = []
    monkeypatch.setattr(serving.TokenServer, "serve", lambda self: served.append(self))
    port = free_port()  # the address is tried before serving
    assert serving.serve("true", host="0.0.0.0", port=port, token="t") == 0
    assert served[0].host == "0.0.0.0"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: 0.0.0.0 is not a loopback address" in err
    assert serving.serve("true", host="127.0.0.1", port=port, token="t") == 0
    assert capsys.readouterr().err == ""


def test_an_address_it_cannot_listen_at_is_one_line_before_any_address_is_printed(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["--serve", "--port", str(port), "--no-token"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == (
            f"lyrics-tui: 127.0.0.1:{port}: address already in use; choose another with "
            "--port or --host\n"
        )
    assert main(["--serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "lyrics-tui: --port must be between 0 and 65535 (got 70000)\n"
    assert serving.address_problem("no-such-host.invalid", free_port()).endswith(
        "no such host; choose another with --port or --host"
    )


def test_a_token_that_cannot_go_in_an_address_is_one_line(capsys):
    assert main(["--serve", "--token", "a/b c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--token may hold only" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_served_address_printed_at_start_has_a_new_random_token(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lyrics_tui.tui.cli", "--serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        found = re.search(rf"http://127\.0\.0\.1:{port}/([A-Za-z0-9_-]{{40,}})/ ", line)
        assert found, line
        base = f"http://127.0.0.1:{port}"
        page = poll(lambda: urllib.request.urlopen(f"{base}/{found.group(1)}/", timeout=10))
        assert page.status == 200
        page.close()
        for path in ("/", f"/{found.group(1)[:-2]}/"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 403

        async def websocket_status() -> int:
            async with ClientSession() as session:
                try:
                    ws = await session.ws_connect(f"{base}/ws?width=80&height=24")
                except WSServerHandshakeError as exc:
                    return exc.status
                await ws.close()
                return 101

        assert asyncio.run(websocket_status()) == 403
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
