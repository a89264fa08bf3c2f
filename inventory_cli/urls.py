"""URLs a user gives: the one rule for whether invwh can deliver to one.

Every way a URL comes in (``--url``, ``INVWH_URL``, ``url`` in the config,
the Python API) is checked here, where it is read, so a malformed one is an
input error naming it and never a delivery that fails halfway through a run.
"""

from __future__ import annotations


def url_problem(url: object) -> str | None:
    """What is wrong with ``url`` as the address of a receiver, or None when it is usable.

    The one rule for every URL a user gives (``--url``, ``url`` in the config,
    the Python API): http or https, a host, a port from 1 to 65535 when one is
    written, and nothing that the HTTP client would only reject later, halfway
    through a run, as a delivery failure (an unclosed ``[``, a space).
    """
    if not isinstance(url, str):
        return f"it must be text, not {type(url).__name__}"
    # Imported here: only the commands that take a URL pay for it.
    from urllib.parse import urlsplit

    if not url:
        return "it is empty"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "it holds a space or a control character (write a space as %20)"
    try:
        parts = urlsplit(url)
    except ValueError:  # urlsplit's complaints are about a bracketed host
        authority = url.partition("://")[2].partition("/")[0]
        if "[" in authority and "]" in authority:
            return "the host in brackets is not an IPv6 address"
        return "the host's brackets do not match (an IPv6 address is written [::1])"
    if parts.scheme not in ("http", "https"):
        hint = f"; did you mean http://{url}?" if "://" not in url else ""
        return f"it needs http:// or https:// and a host{hint}"
    host = parts.hostname
    if not host:
        return "it has no host"
    if "[" in parts.netloc:
        # A bracketed host is an IPv6 address. urlsplit checks that from Python 3.11 on; 3.10 takes
        # `[zz]` as it is, and the client would only refuse it halfway through a run.
        import ipaddress

        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return "the host in brackets is not an IPv6 address"
    elif any(c in '<>"{}|\\^`[]%' for c in host) or not host.strip(".-"):
        return f"{host!r} is not a host name"
    try:
        port = parts.port
    except ValueError:
        written = parts.netloc.rpartition("]")[2].rpartition(":")[2]
        if written.isascii() and written.isdigit():
            return f"port {written} is out of range (1 to 65535)"
        return f"port {written!r} is not a number"
    if port == 0:
        return "port 0 is out of range (1 to 65535)"
    return None
