"""What every response tells the browser: where scripts may come from, no framing, HTTPS cookies.

The pages load scripts, styles and the Socket.IO connection from this server only. Three
templates use a one-line inline event handler (a ``<select>`` that submits its form, a
form that never submits); rather than allowing inline code, the policy allows exactly
those handlers by their hash (``'unsafe-hashes'``). A new inline handler is refused by
the browser until its text is added to :data:`INLINE_HANDLERS`.
"""

from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

#: The inline event handlers the templates use, allowed by their hash.
INLINE_HANDLERS = ("this.form.submit()", "return false")


def _source_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-hashes' " + " ".join(map(_source_hash, INLINE_HANDLERS)),
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    """Set the security headers on ``response`` (an ``after_request`` function)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked ``Secure`` whenever the request is HTTPS.

    ``SESSION_COOKIE_SECURE`` forces the flag for every request; otherwise an HTTPS
    request (directly, or through a trusted proxy, see ``PYBIRCH_BEHIND_PROXY``) gets a
    cookie that the browser will only ever send back over HTTPS.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        """True if the config asks for it or this request came over HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure
