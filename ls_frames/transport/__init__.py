"""Lowest layer: the HTTP connection to Label Studio (auth, retries, error mapping).

:mod:`~ls_frames.transport.retry` holds the one rule for repeating a request and the
transport that applies it, :mod:`~ls_frames.transport.failures` turns failed exchanges
into typed exceptions, :mod:`~ls_frames.transport.secrets` keeps credentials out of them,
:mod:`~ls_frames.transport.identity` refuses a page's URL and names a server that is not
Label Studio.
"""

from ls_frames.transport.auth import TokenAuth, token_kind
from ls_frames.transport.capabilities import ServerCapabilities, server_capabilities
from ls_frames.transport.connection import Connection
from ls_frames.transport.retry import RetryPolicy, RetryTransport

__all__ = [
    "Connection",
    "RetryPolicy",
    "RetryTransport",
    "ServerCapabilities",
    "TokenAuth",
    "server_capabilities",
    "token_kind",
]
