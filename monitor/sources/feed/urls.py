"""Link handling for feed items: resolving relative links and the canonical form of a URL.

The canonical form is what the store compares to recognise the same article reached through
different links. Decisions, each because real feeds differ only there:

* scheme and host are lower-cased, IDN hosts stay as given (only lower-cased);
* the default port (80 for http, 443 for https) is dropped, an empty path becomes ``/``;
* the fragment is dropped, except a ``#!`` "hashbang" that some sites use as the address;
* well-known tracking parameters are dropped (see :data:`TRACKING_PARAMS` and
  :data:`TRACKING_PREFIXES`; names compared case-insensitively);
* the remaining query parameters are sorted by name, each pair keeping its original
  escaping. The sort is stable, so repeated names keep their order (``?id=2&id=1`` stays
  distinct from ``?id=1&id=2``). Servers almost never depend on parameter order, while feeds
  and share links do reorder them.

Path case, percent-escapes and ``www.`` are kept: they can name different resources.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

#: Query parameters that only track where a click came from.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "ref_src",
        "ref_url",
        "at_medium",
        "at_campaign",
        "cmpid",
        "ocid",
        "spm",
        "__twitter_impression",
    }
)

#: Prefixes of tracking parameter families (Google Analytics, AT Internet custom fields...).
TRACKING_PREFIXES = ("utm_", "at_custom", "pk_", "mtm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def resolve_link(link: str | None, base: str) -> str | None:
    """``link`` made absolute against ``base``; ``None`` when empty or not http(s)."""
    if not link or not link.strip():
        return None
    absolute = urljoin(base, link.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def canonical_url(url: str) -> str:
    """The canonical form of ``url`` (see the module docstring for the rules).

    A string that is not an absolute http(s) URL is returned stripped but otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username is not None:
        credentials = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{credentials}@{netloc}"
    fragment = parts.fragment if parts.fragment.startswith("!") else ""
    return urlunsplit((scheme, netloc, parts.path or "/", _clean_query(parts.query), fragment))


def _clean_query(query: str) -> str:
    """The query without tracking parameters, sorted by name; each pair keeps its original escaping."""
    named = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote_plus(pair.partition("=")[0])
        if not is_tracking_param(name):
            named.append((name, pair))
    named.sort(key=lambda item: item[0])
    return "&".join(pair for _, pair in named)
