"""Outbound webhook requests, kept on a short leash (SSRF):

- only http and https; the host's addresses are resolved and refused when any is
  loopback, private, link-local, multicast, reserved or unspecified, unless the
  operator allows it (DISCUSS_WEBHOOK_ALLOW_PRIVATE, or `discuss webhooks add
  --allow-private` for one endpoint); checked at registration and again before every
  request (an address may change its DNS in between);
- a connect and a read timeout (settings.webhook_timeout_seconds);
- redirects followed only to the same scheme, host and port (at most 3): a redirect
  elsewhere is a failed delivery, never a request to another host;
- a request body of at most MAX_BODY bytes, and at most MAX_RESPONSE bytes of the
  answer read (its status is what counts).

What is left: a name that resolves to a public address when checked and to a private
one a moment later (DNS rebinding) can still be reached in that window; pinning the
checked address would need a transport of our own (TLS names checked against the URL).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from domain.errors import InvalidInput

MAX_BODY = 256 * 1024
MAX_RESPONSE = 64 * 1024
MAX_REDIRECTS = 3


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_destination(url: str, allow_private: bool) -> None:
    """InvalidInput (a 422 at the API) for a URL that is not http(s), or whose host
    resolves to an address we do not send to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the URL must be an http:// or https:// address with a host", "url")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(f"the host {parts.hostname!r} cannot be resolved", "url") from None
    for info in infos:
        if _refused(info[4][0]):
            raise InvalidInput(
                f"{parts.hostname} is a loopback or private address: webhooks are not sent"
                " there unless the operator allows it",
                "url",
            )


@dataclass(frozen=True)
class Answer:
    status: int
    ok: bool
    summary: str


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST `body` to `url` under the rules above; raises on a refused destination, a
    network error or a timeout."""
    if len(body) > MAX_BODY:
        raise ValueError(f"the payload is {len(body)} bytes, over the {MAX_BODY} limit")
    origin = (*urlsplit(url)[:2], urlsplit(url).port)
    with requests.Session() as session:
        session.trust_env = False  # no proxies from the environment
        for _ in range(MAX_REDIRECTS + 1):
            check_destination(url, allow_private)
            response = session.post(
                url,
                data=body,
                headers={**headers, "Content-Type": "application/json"},
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
            try:
                response.raw.read(MAX_RESPONSE, decode_content=False)
            finally:
                response.close()
            if response.is_redirect:
                target = urljoin(url, response.headers.get("Location", ""))
                parts = urlsplit(target)
                if (*parts[:2], parts.port) != origin:
                    return Answer(response.status_code, False, "redirect to another host refused")
                url = target
                continue
            ok = 200 <= response.status_code < 300
            return Answer(response.status_code, ok, f"HTTP {response.status_code}")
    return Answer(response.status_code, False, "too many redirects")
