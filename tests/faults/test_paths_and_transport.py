"""Where files land and where the token goes.

* A ``Content-Disposition`` naming ``../``, an absolute path, a Windows path, an encoded
  traversal or an over-long name (rewritten into the real server's answer by the proxy)
  cannot write outside the target folder.
* A plain-http URL to a host that is not this machine gets an ``InsecureTransportWarning``;
  loopback and https do not; a redirect to another origin does not carry the token along.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.transport.connection import InsecureTransportWarning
from tests.faults.conftest import Seeded, Sleeps, files_in, make_client
from tests.faults.figures import count
from tests.faults.proxy import FaultProxy, rewrite_headers, status

pytestmark = pytest.mark.server

LONG = "é" * 180 + ".json"


def _names(tmp_path: Path) -> dict[str, str]:
    outside = tmp_path / "outside"
    return {
        "dotdot": '"../../escape.json"',
        "dotdot-deep": '"sub/dir/../../../escape.json"',
        "absolute": f'"{outside}/absolute.json"',
        "windows": '"..\\\\..\\\\escape.json"',
        "windows-drive": '"C:\\\\Windows\\\\escape.json"',
        "encoded": "UTF-8''..%2F..%2Fescape.json",
        "encoded-absolute": f"UTF-8''{str(outside).replace('/', '%2F')}%2Fenc.json",
        "only-dots": '".."',
        "hidden": '".bashrc"',
        "too-long": f'"{LONG}"',
        "percent-literal": '"..%2F..%2Fliteral.json"',
    }


@pytest.mark.parametrize("case", sorted(_names(Path("/x"))))
def test_content_disposition_cannot_escape_the_target_folder(
    label_studio: Any,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Path,
    case: str,
) -> None:
    value = _names(tmp_path)[case]
    key = "filename*" if value.startswith("UTF-8''") else "filename"
    header = f"attachment; {key}={value}"

    def swap(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-disposition", "filename")]
        return [*kept, ("Content-Disposition", header)]

    proxy.rule(lambda req: rewrite_headers(swap), path=r"/download$")
    target = tmp_path / "inside" / "target"
    target.mkdir(parents=True)
    with make_client(proxy.url, label_studio.admin_key, sleeps) as client:
        path = client.get_export(seeded.project, seeded.export_id).download(target, progress=False)
    assert path.parent == target and path.resolve().parent == target.resolve(), path
    assert files_in(tmp_path) == [path], "nothing written anywhere else"
    assert not path.name.startswith(".") and "/" not in path.name and "\\" not in path.name
    assert len(path.name.encode()) <= 255
    assert hashlib.md5(path.read_bytes()).hexdigest() == seeded.md5
    if case == "too-long":
        assert path.suffix == ".json"
    count("content-disposition", "cases-contained")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.20.30.40:8080",
        "http://label-studio.example.org",
        "http://localhost.example.org:8080/ls",
    ],
)
def test_plain_http_to_a_remote_host_warns(label_studio: Any, url: str) -> None:
    with pytest.warns(InsecureTransportWarning, match="plain http") as record:
        ls_frames.Client(url, label_studio.admin_key).close()
    assert label_studio.admin_key not in str(record[0].message)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://label-studio.example.org",
    ],
)
def test_loopback_or_https_does_not_warn(label_studio: Any, url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ls_frames.Client(url, label_studio.admin_key).close()


def test_a_redirect_to_another_origin_does_not_carry_the_token(
    label_studio: Any, api_key: str, seeded: Seeded, proxy: FaultProxy, sleeps: Sleeps
) -> None:
    """The proxy redirects a listing to a plain-http listener on another loopback address
    (another origin): the listener must see no credential."""
    with FaultProxy(label_studio.url, bind="127.0.0.2", lifetime=30) as sink:
        sink.rule(lambda req: status(200, "[]", content_type="application/json"))
        location = f"{sink.url}/api/projects/{seeded.project}/exports/"
        proxy.script(r"/exports/$", status(302, headers={"Location": location}))
        with make_client(proxy.url, api_key, sleeps) as client:
            assert client.list_exports(seeded.project) == []
        assert len(sink.log) == 1
        assert sink.log[0].request.header("Authorization") is None
        assert not sink.secrets_seen
