"""The requests client: one POST to an https:// (or http://) URL, an answer or a ``Failure``.

``workflows.delivery.Deliverer`` signs and decides (retries, redirects, the
report); this module only speaks HTTP through requests, so that no module
outside transport/ imports requests, urllib3 or http.client. Each thread gets
its own ``requests.Session``, so concurrent replays keep one connection per
worker. requests is imported on the first POST, not with this module: ``sign``
and ``validate`` never pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import failures
from .failures import Failure, FailureKind


@dataclass(frozen=True)
class Answer:
    """What came back to one POST, as much of it as a delivery's report needs."""

    status: int
    reason: str
    #: The headers as sent, with those requests adds (User-Agent, Content-Length).
    sent_headers: Mapping[str, str]
    preview: bytes
    location: str | None  # set only when the answer is a redirect
    retry_after: str | None


class RequestsClient:
    """POSTs with requests, one session per thread; safe to share between threads."""

    def __init__(self, *, user_agent: str, tls_verify: bool | str, preview_bytes: int) -> None:
        self.user_agent = user_agent
        #: True, False (--insecure) or a CA bundle path (--ca-bundle).
        self.tls_verify = tls_verify
        self.preview_bytes = preview_bytes
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer | Failure:
        """POST ``body`` exactly, never following a redirect (the caller decides), never retrying."""
        import requests

        try:
            response = self._session().post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                # Per request: requests lets REQUESTS_CA_BUNDLE override the session's setting.
                verify=self.tls_verify,
            )
        except requests.RequestException as error:
            return describe_failure(error, timeout, url)
        location = response.headers.get("Location")
        return Answer(
            status=response.status_code,
            reason=response.reason or "",
            sent_headers=dict(response.request.headers),
            preview=self._preview(response),
            location=location if response.is_redirect and location else None,
            retry_after=response.headers.get("Retry-After"),
        )

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
            session.verify = self.tls_verify
            if self.tls_verify is False:
                # Asked for with --insecure: urllib3's warning would only repeat it, over two lines.
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _preview(self, response: Any) -> bytes:
        try:
            chunk = next(response.iter_content(self.preview_bytes), b"")
        except Exception:  # a broken body after the status line: the status still stands
            chunk = b""
        response.close()
        return bytes(chunk)


def describe_failure(error: BaseException, timeout: float, url: str | None = None) -> Failure:
    """Why ``requests`` got nothing back from ``url``: a kind, and a line in the words every client uses."""
    import requests

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return failures.connect_timed_out(timeout)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return failures.no_response(timeout)
    if isinstance(error, requests.exceptions.TooManyRedirects):
        return Failure(FailureKind.TOO_MANY_REDIRECTS, "too many redirects")
    described = failures.describe_cause(error, timeout, url)
    if described is not None:
        return described
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return Failure(FailureKind.INVALID_URL, failures.one_line(f"invalid URL: {error}"))
    innermost = failures.innermost(error)
    return Failure(FailureKind.OTHER, failures.one_line(f"{type(error).__name__}: {innermost}"))
