"""The client an end-to-end call uses: the caller's, or one made for the call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ls_frames.exports import Client

__all__ = ["using_client"]


@contextmanager
def using_client(client: Client | None, make: Callable[[], Client] = Client) -> Iterator[Client]:
    """The caller's ``client``, or one made by ``make`` (from the environment) and closed
    afterwards."""
    if client is not None:
        yield client
        return
    with make() as own:
        yield own
