"""Fetching one feed over HTTP with httpx: conditional GET, redirects, limits and timeouts.

Redirects are followed here rather than by httpx so that a redirect's own body is never read
(httpx reads it whole) and so that a chain of permanent redirects can be reported. The body is
streamed and decoded with a hard size limit; the whole fetch is bounded by one total timeout.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

import monitor
from monitor.errors import FetchError

from .decompress import BodyTooLarge, BoundedDecoder
from .httpheaders import parse_max_age, parse_retry_after
from .results import FeedRequest, FetchSettings

USER_AGENT = f"monitor/{monitor.__version__} (+https://github.com/monitor/monitor; news-monitoring worker)"

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})


@dataclass(frozen=True)
class Fetched:
    """A successful fetch: ``status`` is 200-ish with ``body``, or 304 with an empty body."""

    status: int
    body: bytes
    headers: dict[str, str]
    final_url: str
    permanent_url: str | None
    etag: str | None
    last_modified: str | None
    max_age: float | None


def make_client(settings: FetchSettings, tls: ssl.SSLContext) -> httpx.AsyncClient:
    """A client for one host: our User-Agent, no automatic redirects, ``per_host`` connections.

    A poll uses one client per host because httpcore's pool scans every connection it holds on
    each request and release, which grows quadratically in one pool shared by a hundred hosts.
    ``tls`` is shared, since building a TLS context (loading the CA bundle) takes ~50 ms.
    """
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(settings.total_timeout, connect=settings.connect_timeout),
        limits=httpx.Limits(max_connections=settings.per_host, max_keepalive_connections=settings.per_host),
        follow_redirects=False,
        verify=tls,
    )


def make_tls_context() -> ssl.SSLContext:
    """Certificate verification as httpx does it by default (certifi, or SSL_CERT_FILE / SSL_CERT_DIR)."""
    return httpx.create_ssl_context()


async def fetch_feed(client: httpx.AsyncClient, request: FeedRequest, settings: FetchSettings) -> Fetched:
    """Fetch ``request.url``; raise :class:`FetchError` for every failure, with status and Retry-After."""
    try:
        async with asyncio.timeout(settings.total_timeout):
            return await _fetch(client, request, settings)
    except TimeoutError:
        raise FetchError(f"timed out after {settings.total_timeout:g} s") from None
    except httpx.ConnectTimeout:
        raise FetchError(f"timed out connecting (after {settings.connect_timeout:g} s)") from None
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {settings.total_timeout:g} s") from None
    except (httpx.InvalidURL, ValueError) as exc:
        # ValueError: also a header value that cannot be sent (say, a stored ETag with a line break)
        raise FetchError(f"invalid request: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"connection failed: {_describe(exc)}") from None


async def _fetch(client: httpx.AsyncClient, request: FeedRequest, settings: FetchSettings) -> Fetched:
    url = request.url
    _check_scheme(url)
    conditional = {}
    if request.etag:
        conditional["If-None-Match"] = request.etag
    if request.last_modified:
        conditional["If-Modified-Since"] = request.last_modified
    permanent_url: str | None = None
    still_permanent = True
    for hop in range(settings.max_redirects + 1):
        response = await client.send(client.build_request("GET", url, headers=conditional), stream=True)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                if hop == settings.max_redirects:
                    raise FetchError(
                        f"too many redirects (more than {settings.max_redirects})",
                        status=response.status_code,
                    )
                url = urljoin(url, location.strip())
                _check_scheme(url)
                still_permanent = still_permanent and response.status_code in _PERMANENT
                if still_permanent:
                    permanent_url = url
                continue
            return await _finish(response, request, url, permanent_url, settings)
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")


async def _finish(
    response: httpx.Response,
    request: FeedRequest,
    url: str,
    permanent_url: str | None,
    settings: FetchSettings,
) -> Fetched:
    status = response.status_code
    headers = {k.lower(): v for k, v in response.headers.items()}
    if status == 304:
        # Reading the (empty) rest of the response lets the connection be reused.
        await _discard_body(response, settings.max_bytes)
        body = b""
    elif 200 <= status < 300:
        body = await _read_body(response, settings.max_bytes)
    else:
        reason = response.reason_phrase or ""
        raise FetchError(
            f"HTTP {status} {reason}".strip(),
            status=status,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    return Fetched(
        status=status,
        body=body,
        headers=headers,
        final_url=url,
        permanent_url=permanent_url,
        # A 304 may omit the validators (they are unchanged); a new body brings its own or none.
        etag=headers.get("etag") or (request.etag if status == 304 else None),
        last_modified=headers.get("last-modified") or (request.last_modified if status == 304 else None),
        max_age=parse_max_age(headers.get("cache-control")),
    )


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = FetchError(f"response larger than {max_bytes:,} bytes; aborted", status=response.status_code)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and not response.headers.get("content-encoding") and int(declared) > max_bytes:
        raise too_large
    decoder = BoundedDecoder(response.headers.get("content-encoding"), max_bytes)
    parts: list[bytes] = []
    try:
        async for chunk in response.aiter_raw():
            parts.append(decoder.feed(chunk))
        parts.append(decoder.flush())
    except BodyTooLarge:
        raise too_large from None
    return b"".join(parts)


async def _discard_body(response: httpx.Response, max_bytes: int) -> None:
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(
                f"response larger than {max_bytes:,} bytes; aborted", status=response.status_code
            )


def _check_scheme(url: str) -> None:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise FetchError(f"invalid URL: {exc}") from None
    if scheme not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {url}")


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
