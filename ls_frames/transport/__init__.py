"""Lowest layer: the HTTP connection to Label Studio (auth, retries, error mapping)."""

from ls_frames.transport.auth import TokenAuth, token_kind
from ls_frames.transport.capabilities import ServerCapabilities, server_capabilities
from ls_frames.transport.connection import Connection
from ls_frames.transport.retry import RetryPolicy

__all__ = [
    "Connection",
    "RetryPolicy",
    "ServerCapabilities",
    "TokenAuth",
    "server_capabilities",
    "token_kind",
]
