"""Who may talk to the IDE server.

Off loopback a token is required on every request: ``Authorization: Bearer <token>``,
``X-Tide-Token: <token>``, or the ``tide_token`` cookie that opening ``/?token=<token>`` sets
(HttpOnly, SameSite=Strict) before redirecting to ``/``. A server bound to loopback answers
only requests addressed to a loopback name, which a web page cannot arrange through DNS
rebinding, with or without a token. An empty token is never accepted. In every case a
state-changing request that a browser marks as coming from another origin is refused; there is
no CORS.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ide_backend.errors import error_response
from ide_backend.settings import is_loopback

COOKIE = "tide_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RESPONSE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


def _host_name(host: str) -> str:
    return urlsplit(f"//{host}").hostname or ""


def _route_path(scope: Scope) -> str:
    """The path below the app's root (which is not ``/`` when the app is mounted)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, token: str | None, loopback_only: bool = True) -> None:
        if token is not None and not token.strip():
            raise ValueError("an empty token would let anyone in")
        if token is None and not loopback_only:
            raise ValueError("a server that answers off loopback needs a token")
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _RESPONSE_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _check(self, scope: Scope) -> ASGIApp | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback(_host_name(host)):
            return error_response(403, f"this server answers only on loopback, not '{host}'")
        origin = headers.get("origin")
        if scope["method"] not in _SAFE_METHODS and origin and urlsplit(origin).netloc != host:
            return error_response(403, "requests from other sites are refused", "cross_origin")
        if self.token is None:
            return None
        if _route_path(scope) == "/" and b"token=" in scope.get("query_string", b""):
            return self._login(scope)
        if self._authorized(headers):
            return None
        return error_response(
            401,
            "this server needs its token: open the URL it printed at start (with ?token=...), "
            "or send Authorization: Bearer <token>",
        )

    def _matches(self, candidate: str | None) -> bool:
        assert self.token is not None
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode()
        )

    def _authorized(self, headers: Headers) -> bool:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self._matches(auth[7:].strip()):
            return True
        if self._matches(headers.get("x-tide-token")):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and self._matches(morsel.value)

    def _login(self, scope: Scope) -> ASGIApp:
        query = parse_qs(scope["query_string"].decode("latin-1"))
        if not self._matches((query.get("token") or [None])[0]):
            return error_response(401, "wrong token")
        # Mounted in another app, this app's root is below the server's.
        response = RedirectResponse(scope.get("root_path", "") + "/", status_code=303)
        assert self.token is not None
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
        return response
