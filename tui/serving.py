"""Serving the playground to a browser, to those who hold its address only.

textual-serve starts one playground process per websocket, running as the serving user. As
Jupyter does, the address printed at start holds a random token: the whole site (page, static
files, websocket) lives under /TOKEN/, and any other request is refused with 403 before a
handler runs, so no process starts for it. The token sits in the path rather than in a query
or a cookie because the page builds its websocket address from the path it was served under,
and a path needs no cookie, which would tie the page to the exact host name typed.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from textual_serve.server import Server

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
REFUSED = (
    "lyrics-tui: this playground is served to those who hold its full address, token "
    "included, as printed where it was started\n"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    """32 random bytes, URL-safe (as Jupyter's tokens)."""
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str | None:
    """None if `token` can be used in the address, else why not (one line)."""
    if TOKEN_PATTERN.fullmatch(token):
        return None
    return "--token may hold only letters, digits, '-' and '_' (1 to 256 of them)"


def is_loopback(host: str) -> bool:
    """Whether every address `host` stands for is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def url_host(host: str) -> str:
    """The host as it goes in a URL: this machine's name for "all interfaces"."""
    if host in ("", "0.0.0.0", "::"):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


class TokenServer(Server):
    """textual-serve's Server with every route under /TOKEN/ (token None: no check)."""

    def __init__(
        self, command: str, *, host: str, port: int, token: str | None, title: str
    ) -> None:
        super().__init__(
            command,
            host=host,
            port=port,
            title=title,
            public_url=f"http://{url_host(host)}:{port}",
        )
        self.token = token

    @property
    def url(self) -> str:
        """The address to open: with the token, when there is one."""
        return f"{self.public_url}/{self.token}/" if self.token else f"{self.public_url}/"

    async def _make_app(self) -> web.Application:
        site = await super()._make_app()
        if self.token is None:
            return site
        root = web.Application(middlewares=[self._require_token])
        root.add_subapp(f"/{self.token}/", site)  # its URLs (static, websocket) gain the prefix
        return root

    @web.middleware
    async def _require_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        assert self.token is not None
        given = request.raw_path.split("?", 1)[0].split("/", 2)[1:2] or [""]
        if not hmac.compare_digest(given[0].encode(), self.token.encode()):
            return web.Response(status=403, text=REFUSED)
        if request.path == f"/{self.token}":
            raise web.HTTPFound(self.url)
        return await handler(request)

    async def on_startup(self, app: web.Application) -> None:
        """Say where the playground is, instead of textual-serve's banner (its address has no
        token)."""
        print(f"lyrics-tui: the playground is at {self.url} (Ctrl+C stops)", flush=True)

    def initialize_logging(self) -> None:
        """Keep textual-serve's log (one line per app process) on stderr: stdout holds the
        address."""
        super().initialize_logging()
        self.console.stderr = True


def address_problem(host: str, port: int) -> str | None:
    """Why the server could not listen at host:port (None: it can), found before the address is
    printed: a port in use gave a traceback after it."""
    if not 0 <= port <= 65535:
        return f"--port must be between 0 and 65535 (got {port})"
    try:
        socket.create_server((host, port)).close()  # SO_REUSEADDR, as the server's own
    except OSError as exc:  # in use, not this machine's, or not an address
        known = exc.errno is not None and exc.errno > 0
        reason = os.strerror(exc.errno).lower() if known else "no such host"  # type: ignore[arg-type]
        return f"{host}:{port}: {reason}; choose another with --port or --host"
    return None


def serve(command: str, *, host: str, port: int, token: str | None) -> int:
    """Serve `command` (one process per page) until Ctrl+C or SIGTERM."""
    problem = address_problem(host, port)
    if problem:
        print(f"lyrics-tui: {problem}", file=sys.stderr)
        return 2
    if not is_loopback(host):
        whom = "anyone who can reach it" if token is None else "anyone who holds the address"
        print(
            f"lyrics-tui: warning: {host} is not a loopback address: {whom} can use the "
            "playground as you (reading and writing your files)",
            file=sys.stderr,
        )
    TokenServer(command, host=host, port=port, token=token, title="lyrics-tui").serve()
    return 0
