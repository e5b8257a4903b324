"""How a failed exchange becomes one of the typed exceptions of :mod:`ls_frames.errors`.

Every HTTP exception the library raises is built here: :func:`raise_for_status` turns an
error answer into its :class:`~ls_frames.errors.APIError`, :func:`no_answer` a request that
got no usable answer into a :class:`~ls_frames.errors.TransportError`, and
:func:`http_error` builds any other. Each keeps only scrubbed copies of the request and
the response and redacted text (:mod:`ls_frames.transport.secrets`), so no credential
reaches a message or an attribute.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, TypeVar

import httpx

from ls_frames.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    HTTPError,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from ls_frames.transport.secrets import redact, scrub_request, scrub_response

__all__ = ["http_error", "named_origin", "no_answer", "raise_for_status", "server_message"]

_MAX_MESSAGE = 2000

E = TypeVar("E", bound=HTTPError)

_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def http_error(
    cls: type[E],
    message: str,
    *,
    request: httpx.Request | None = None,
    response: httpx.Response | None = None,
    method: str | None = None,
    path: str | None = None,
    status: int | None = None,
    server_message: str = "",
    **extra: Any,
) -> E:
    """An exception of class ``cls`` that is safe to show and to keep.

    Parameters
    ----------
    cls
        :class:`~ls_frames.errors.HTTPError` or a subclass.
    message
        What went wrong, in the library's words.
    request, response
        The exchange; the exception keeps scrubbed copies of them. ``method``, ``path``
        and ``status`` default to theirs.
    method, path, status, server_message
        As :class:`~ls_frames.errors.HTTPError` takes them.
    **extra
        Further keyword arguments of ``cls`` (``scheme`` of an authentication error).

    Returns
    -------
    HTTPError
        The exception, its text and its server message redacted.
    """
    safe_request = scrub_request(request)
    if safe_request is None and response is not None:
        with contextlib.suppress(RuntimeError):
            safe_request = scrub_request(response.request)
    url = safe_request.url if safe_request is not None else None
    return cls(
        redact(message),
        method=method if method is not None else (safe_request.method if safe_request else ""),
        path=redact(path if path is not None else (url.path if url is not None else "")),
        status=status if status is not None else (response.status_code if response else None),
        server_message=redact(server_message),
        request=safe_request,
        response=scrub_response(response, safe_request),
        **extra,
    )


def server_message(response: httpx.Response) -> str:
    """The human part of an error body (a JSON ``detail``, validation errors, plain text,
    or the title of an HTML page), redacted."""
    return redact(_summary(response))


def _summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except Exception:
        ctype = response.headers.get("content-type", "")
        text = response.text if response.is_stream_consumed or not response.is_closed else ""
        if "html" in ctype or text.lstrip().startswith("<"):
            title = re.search(r"<title>(.*?)</title>", text, re.S | re.I)
            return f"HTML error page{': ' + title.group(1).strip() if title else ''}"
        return text.strip()[:_MAX_MESSAGE]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                extra = body.get("validation_errors")
                return value + (f" {extra}" if extra else "")
    return str(body)[:_MAX_MESSAGE]


def raise_for_status(response: httpx.Response, *, scheme: str | None = None) -> None:
    """Turn an error answer into the matching :class:`~ls_frames.errors.APIError`.

    Parameters
    ----------
    response
        Any answer; a success or a redirect is left alone. Its body is read for the
        server's message.
    scheme
        The ``Authorization`` scheme that was sent ("Token" or "Bearer"), named by an
        :class:`~ls_frames.errors.AuthenticationError`.

    Raises
    ------
    APIError
        The subclass of the status: 401 ``AuthenticationError``, 403 ``PermissionDenied``,
        404 ``NotFound``, 429 ``RateLimited``, 5xx ``ServerError``, else ``BadRequest``.
    """
    if response.is_success or response.is_redirect:
        return
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, BadRequest)
    with contextlib.suppress(Exception):  # body unavailable (stream broken): keep the status
        response.read()
    said = server_message(response)
    phrase = response.reason_phrase or "error"
    if cls is AuthenticationError:
        if scheme == "Token" and "legacy token authentication has been disabled" in said:
            # Label Studio 1.17+ turns legacy tokens off for new organizations.
            phrase = (
                "legacy tokens are turned off for this organization (the default since "
                "Label Studio 1.17): use a personal access token, or turn legacy tokens "
                "on in the organization's settings"
            )
        raise http_error(
            AuthenticationError, phrase, response=response, server_message=said, scheme=scheme
        )
    raise http_error(cls, phrase, response=response, server_message=said)


def named_origin(request: httpx.Request) -> str:
    """``scheme://host:port`` of the host ``request`` is meant for: the ``Host`` header's
    (a request pinned to a checked address keeps the name there), else the URL's."""
    url = request.url
    with contextlib.suppress(httpx.InvalidURL, KeyError):
        url = httpx.URL(f"{url.scheme}://{request.headers['Host']}/")
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    host = url.host.lower()
    return f"{url.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def no_answer(
    exc: httpx.TransportError, request: httpx.Request, attempts: int, unfixable: str | None
) -> TransportError:
    """The typed error of a request that got no usable answer.

    Parameters
    ----------
    exc
        httpx's error (kept as the cause by the caller's ``raise ... from exc``).
    request
        The request that failed.
    attempts
        How many times it was tried.
    unfixable
        Why a retry could not help (see :func:`ls_frames.transport.retry.unfixable`), or
        ``None``.

    Returns
    -------
    TransportError
        :class:`~ls_frames.errors.RequestTimeout` for a timeout; a ``TransportError``
        naming the origin and the reason, or the attempts, otherwise.
    """
    where = named_origin(request)
    kind = type(exc).__name__
    if unfixable is not None:
        return http_error(TransportError, f"cannot reach {where}: {unfixable}", request=request)
    if isinstance(exc, httpx.TimeoutException):
        message = f"timed out ({kind}) talking to {where} after {attempts} attempt(s)"
        return http_error(RequestTimeout, message, request=request)
    message = f"connection to {where} failed ({kind}: {exc}) after {attempts} attempt(s)"
    return http_error(TransportError, message, request=request)
