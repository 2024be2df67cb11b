"""The HTTP side of the Fonnte client: its session, its URLs, and what a broken connection means."""

import http.client
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError


def _session_for(url: str) -> requests.Session:
    """A session with the environment's proxy and CA settings for ``url``, read once.

    By default requests reads them again for every request (``trust_env``): a few
    hundred environment lookups per message in a worker (bench/README.md, item 7).
    Same settings, read when the backend is built (a worker reads them at start-up):
    HTTPS_PROXY / HTTP_PROXY / ALL_PROXY with NO_PROXY for FONNTE_URL's host (/device and
    /validate share it), and REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE. It also keeps a
    ~/.netrc entry from replacing the Authorization header that carries the token.
    """
    session = requests.Session()
    # What requests itself would merge into each request, asked once.
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(environment["proxies"])
    session.verify = environment["verify"]
    session.trust_env = False
    return session


def _sibling_url(url: str, name: str) -> str:
    """``…/send`` → ``…/<name>``: the endpoint beside the configured send URL."""
    parts = urlsplit(url)
    base = parts.path.rstrip("/").rpartition("/")[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{base}/{name}", parts.query, ""))


def _sent_without_answer(err: requests.ConnectionError) -> bool:
    """True when the connection broke after the request went out (urllib3 ProtocolError).

    requests wraps "Connection aborted." / RemoteDisconnected / a reset mid-exchange as
    ConnectionError(ProtocolError(...)); refusals and DNS failures arrive as
    ConnectionError(MaxRetryError(reason=NewConnectionError)) instead.
    """
    after_send = (ProtocolError, Urllib3ReadTimeoutError, http.client.RemoteDisconnected)
    for arg in err.args:
        if isinstance(arg, after_send):
            return True
        if isinstance(getattr(arg, "reason", None), after_send):
            return True
    return False


def _describe(err: Exception) -> str:
    """The exception's class and innermost message, short enough for an admin's screen."""
    inner = err
    while inner.args and isinstance(inner.args[0], Exception):
        inner = inner.args[0]
    reason = getattr(inner, "reason", None)
    if isinstance(reason, Exception):
        inner = reason
    text = str(inner).strip()
    return f"{type(err).__name__} ({text[:200]})" if text else type(err).__name__
