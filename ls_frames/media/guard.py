"""Which hosts a media fetch may connect to (server-side request forgery guard).

Task data is untrusted input: anyone who can import tasks writes it, and ``fetch_media``
runs on the user's machine, often inside a company network. So before every request to a
host other than Label Studio (the first one and every redirect hop) the host name is
resolved and each address checked:

* link-local and cloud metadata addresses (``169.254.0.0/16``, ``fe80::/10``,
  ``fd00:ec2::254``, ``100.100.100.200``, ...), unspecified, multicast and reserved ones
  are never fetched, whatever ``allow_hosts`` says;
* private, loopback and shared (CGNAT) addresses only when the host is the Label Studio
  host itself or listed in ``allow_hosts`` (a host name, an address, or a network such as
  ``"10.1.0.0/16"``);
* public addresses always.

The connection then goes to the checked address (the request is *pinned* to it, with the
original ``Host`` header and TLS server name), so a DNS answer that changes between the
check and the connection (DNS rebinding) cannot move it elsewhere. Residual risks: a proxy
from the environment (``HTTPS_PROXY``) connects on our behalf and is trusted to do so; a
host named in ``allow_hosts`` is trusted by name, whatever it resolves to; and Label Studio
itself resolves storage URIs on its side (its own ``SSRF_PROTECTION_ENABLED`` covers that).
One DNS answer per host serves the requests of a minute (each still goes to an address
that was checked).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["HostGuard", "Pinned", "Refused"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

#: Never fetched: link-local (cloud metadata lives there), known metadata endpoints.
_FORBIDDEN = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # link-local; AWS, GCP, Azure, OpenStack metadata 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure wire server
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
    )
)
#: How long one DNS answer is used for (the connection always goes to a checked address).
ANSWER_SECONDS = 60.0
#: Fetched only from Label Studio's own host or an allowed one.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _forbidden(address: IPAddress) -> bool:
    return address.is_link_local or any(address in net for net in _FORBIDDEN)


class Refused(Exception):
    """A URL the guard will not fetch; the message says why."""


@dataclass(frozen=True)
class Pinned:
    """A request target fixed to a checked address: ``url`` names the address, ``host``
    is the original ``Host`` header and ``sni`` the TLS server name (or ``None``)."""

    url: httpx.URL
    host: str
    sni: str | None


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class HostGuard:
    """Checks and pins the hosts a fetch connects to.

    ``label_studio_host`` is trusted for private addresses; ``allow_hosts`` adds host
    names, addresses and networks. ``resolve`` is ``socket.getaddrinfo`` (injectable).
    """

    def __init__(
        self,
        label_studio_host: str | None = None,
        allow_hosts: Iterable[str] | None = None,
        *,
        resolve: Resolver = socket.getaddrinfo,
    ) -> None:
        self._names: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in ([label_studio_host] if label_studio_host else []) + list(allow_hosts or ()):
            text = str(entry).strip().lower().strip("[]")
            try:
                self._networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self._names.add(text.rstrip("."))
        self._resolve = resolve
        self._answers: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}
        self._lock = threading.Lock()

    def _lookup(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, remembered for :data:`ANSWER_SECONDS` (a run fetching
        thousands of files from one bucket asks the resolver once, not per file)."""
        now = time.monotonic()
        with self._lock:
            kept = self._answers.get((host, port))
        if kept is not None and now - kept[0] < ANSWER_SECONDS:
            return kept[1]
        try:
            infos = self._resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"host {host} does not resolve ({exc})") from None
        addresses = [a for a in (_address(str(info[4][0])) for info in infos) if a]
        if not addresses:
            raise Refused(f"host {host} does not resolve")
        with self._lock:
            self._answers[(host, port)] = (now, addresses)
        return addresses

    def _allowed(self, host: str, address: IPAddress) -> bool:
        return host in self._names or any(address in net for net in self._networks)

    def check_address(self, host: str, address: IPAddress) -> None:
        """Raise :class:`Refused` unless ``host`` may be reached at ``address``."""
        what = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
        if _forbidden(address):
            raise Refused(f"refused: {what} a link-local / cloud metadata address (never fetched)")
        if (
            address.is_multicast
            or address.is_unspecified
            or (address.is_reserved and not address.is_private)
        ):
            raise Refused(f"refused: {what} a reserved address")
        internal = address.is_private or address.is_loopback or address in _SHARED
        if internal and not self._allowed(host, address):
            raise Refused(
                f"refused: {what} a private address and not the Label Studio host "
                "(allow it with allow_hosts=)"
            )

    def pin(self, url: httpx.URL) -> Pinned:
        """Check every address ``url``'s host resolves to and fix the request to the first;
        raise :class:`Refused` when any is forbidden or the name does not resolve."""
        if url.scheme not in ("http", "https"):
            raise Refused(f"refused: scheme {url.scheme!r} is not fetched")
        host = url.host.lower().rstrip(".")
        if not host:
            raise Refused("refused: a URL without a host")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = _address(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            addresses = self._lookup(host, port)
        # Forbidden addresses first: a name that resolves to one is refused as such.
        for address in sorted(addresses, key=lambda a: not _forbidden(a)):
            self.check_address(host, address)
        chosen = addresses[0]
        netloc = url.netloc.decode("ascii")
        return Pinned(
            url=url.copy_with(host=str(chosen)),
            host=netloc,
            sni=host if url.scheme == "https" and literal is None else None,
        )
