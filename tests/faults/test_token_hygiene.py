"""Token hygiene: no credential (the legacy token, the personal access token, any access token
issued for it) in the ``repr`` of any object, in DEBUG logs, or in an exception's message,
even when a proxy or the server echoes the credential back in an error page.

The proxy records every credential that passes through it (``Authorization`` values, the
refresh token in the refresh request, the access tokens in its answers); the test then
searches everything the library rendered for each of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from tests.faults.conftest import Seeded, Sleeps, files_in, make_client
from tests.faults.figures import count
from tests.faults.proxy import (
    Fault,
    FaultProxy,
    ProxyRequest,
    html_page,
    reset,
    rewrite_json,
    stall,
    status,
)

pytestmark = pytest.mark.server


def _echo(code: int, html: bool = False) -> Callable[[ProxyRequest], Fault]:
    """An error answer that repeats the request's credential (as careless servers do)."""

    def fault(req: ProxyRequest) -> Fault:
        auth = req.header("Authorization") or ""
        if html:
            return html_page(code, f"Denied for {auth}")
        body = json.dumps({"detail": f"credential {auth} refused", "header": auth})
        return status(code, body, content_type="application/json")

    return fault


def _message_of(obj: httpx.Request | httpx.Response) -> str:
    """Everything an ``httpx`` message holds: URL, raw header values (not the masked repr)
    and body."""
    url = obj.url if isinstance(obj, httpx.Request) else obj.request.url
    lines = [repr(obj), repr(obj.headers), str(url)]
    lines += [f"{name}: {value}" for name, value in obj.headers.multi_items()]
    with contextlib.suppress(httpx.RequestNotRead, httpx.ResponseNotRead):
        lines.append(obj.content.decode("utf-8", "replace"))
    return "\n".join(lines)


def _texts_of(exc: BaseException) -> list[str]:
    """The messages of ``exc`` and every attribute it carries (server payloads included)."""
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(exc.args)]
    for name, value in vars(exc).items():
        if isinstance(value, (httpx.Request, httpx.Response)):
            out.append(_message_of(value))
        else:
            out.append(f"{name}={json.dumps(value, default=repr)}")
    return out


def test_no_credential_in_reprs_logs_or_errors(
    label_studio: Any,
    api_key: str,
    seeded: Seeded,
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ls_frames, httpx, httpcore
    texts: list[str] = []
    errors: list[BaseException] = []

    def expect_error(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except ls_frames.LSFramesError as exc:
            errors.append(exc)
        else:
            raise AssertionError(f"{fn} did not fail")

    with make_client(proxy.url, api_key, sleeps, attempts=3) as client:
        pid, eid = seeded.project, seeded.export_id
        export = client.get_export(pid, eid)
        conversion = export.convert("CSV")
        conversion.wait(timeout=60, poll_interval=0.05)
        export.download(tmp_path, progress=False)
        texts += [
            repr(o)
            for o in (
                client,
                client.auth,
                client.retry,
                client._client,
                export,
                conversion,
                *client.list_exports(pid),
                *client.export_formats(pid),
            )
        ]

        # Error answers that echo the credential back, in JSON and in HTML.
        for code in (400, 401, 403, 404, 500):
            proxy.rule(_echo(code), path=rf"/exports/{eid}$")
            expect_error(lambda: client.get_export(pid, eid))
            proxy.clear()
        proxy.rule(_echo(502, html=True), path=r"/exports/$")
        expect_error(lambda: client.list_exports(pid))
        proxy.clear()
        proxy.rule(_echo(200, html=True), path=r"/export/formats$")
        expect_error(lambda: client.export_formats(pid))
        proxy.clear()
        # No answer at all.
        proxy.script(r"/exports/$", *[reset()] * 3)
        expect_error(lambda: client.list_exports(pid))
        proxy.script(r"/exports/$", *[stall(5.0)] * 3)
        expect_error(lambda: client.list_exports(pid))
        # A failed job whose server traceback holds the credential.
        secrets_now = sorted(proxy.secrets_seen)
        failing = client.get_export(pid, eid)
        failing.raw["status"] = "in_progress"
        proxy.script(
            rf"/exports/{eid}$",
            rewrite_json(
                lambda raw: {
                    **raw,
                    "status": "failed",
                    "traceback": "Traceback ...\nKeyError: " + " ".join(secrets_now),
                }
            ),
        )
        expect_error(lambda: failing.wait(timeout=10, poll_interval=0.01))
        # A download that does not match its MD5.
        broken = client.get_export(pid, eid)
        broken.raw["md5"] = "0" * 32
        expect_error(lambda: broken.download(tmp_path / "x.json", progress=False))

    secrets = {s for s in proxy.secrets_seen | {api_key} if len(s) >= 16}
    assert api_key in secrets
    if ls_frames.transport.token_kind(api_key) != "legacy":
        assert len(secrets) >= 2, "the personal access token and at least one access token"
    for exc in errors:
        texts += _texts_of(exc)
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    leaks = [
        (secret[:6] + "…", text[:120]) for text in texts for secret in secrets if secret in text
    ]
    assert not leaks, leaks
    assert {type(e).__name__ for e in errors} >= {
        "BadRequest",
        "AuthenticationError",
        "PermissionDenied",
        "NotFound",
        "ServerError",
        "HTTPError",
        "TransportError",
        "RequestTimeout",
        "ExportFailed",
        "ChecksumMismatch",
    }
    count("token hygiene", "texts-scanned", len(texts))
    count("token hygiene", "errors-provoked", len(errors))
    count("token hygiene", "secrets-searched", len(secrets))
    count("token hygiene", "leaks", len(leaks))


# -- at rest: Parquet datasets and notebooks ---------------------------------------------

#: What a credential looks like even when we do not know it: a legacy token (40 hex
#: characters), a JWT (personal access token or access token), a header value.
CREDENTIAL_PATTERNS = {
    "legacy-token": re.compile(rb"(?<![0-9A-Fa-f])[0-9a-f]{40}(?![0-9A-Fa-f])"),
    "jwt": re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "header": re.compile(rb"(?i)\b(?:Token|Bearer) (?=[A-Za-z0-9._-]*\d)[A-Za-z0-9._-]{20,}"),
}
REPO = Path(__file__).resolve().parents[2]


def _leaks_in(blob: bytes, secrets: set[str], where: str) -> list[str]:
    """Each secret (as UTF-8 and as its JSON-escaped form) found in ``blob``."""
    found = []
    for secret in secrets:
        forms = {secret.encode(), json.dumps(secret).strip('"').encode()}
        if any(form in blob for form in forms):
            found.append(f"{secret[:6]}… in {where}")
    return found


def test_no_credential_in_parquet_files_or_provenance(
    label_studio: Any,
    api_key: str,
    demo_project: dict[str, Any],
    proxy: FaultProxy,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    """``export_project`` with each key kind: every byte of every file written (the Parquet
    files with their footers, ``_SUCCESS``, the kept snapshot), the decoded key-value
    metadata and every string cell hold none of the credentials that were sent."""
    import pyarrow.parquet as pq

    out, kept = tmp_path / "dataset", tmp_path / "snapshot"
    kept.mkdir()
    with make_client(proxy.url, api_key, sleeps) as client:
        ls_frames.export_project(
            demo_project["project_id"], out, client=client, keep_file=kept, progress=False
        )
    secrets = {s for s in proxy.secrets_seen | {api_key} if len(s) >= 16}
    assert api_key in secrets
    if ls_frames.transport.token_kind(api_key) != "legacy":
        assert len(secrets) >= 2, "the personal access token and at least one access token"

    files = files_in(tmp_path)
    parquet = [f for f in files if f.suffix == ".parquet"]
    assert len(parquet) >= 6 and (out / "_SUCCESS").is_file() and any(kept.iterdir())
    leaks: list[str] = []
    scanned = 0
    for file in files:
        blob = file.read_bytes()
        scanned += len(blob)
        leaks += _leaks_in(blob, secrets, str(file.relative_to(tmp_path)))
    for file in parquet:
        meta = pq.read_metadata(file).metadata or {}
        assert b"ls_frames" in meta, f"no provenance in {file}"
        decoded = b"\n".join(k + b"=" + v for k, v in meta.items())
        leaks += _leaks_in(decoded, secrets, f"metadata of {file.name}")
        cells = pq.read_table(file).to_pylist()  # data pages may be compressed on disk
        leaks += _leaks_in(json.dumps(cells, default=str).encode(), secrets, f"cells of {file}")
    provenance = ls_frames.read_parquet(out).provenance
    assert provenance is not None and provenance["project"] == demo_project["project_id"]
    leaks += _leaks_in(json.dumps(provenance.to_dict()).encode(), secrets, "Frames.provenance")
    assert not leaks, leaks
    count("token hygiene", "parquet-files-scanned", len(parquet))
    count("token hygiene", "dataset-files-scanned", len(files))
    count("token hygiene", "dataset-bytes-scanned", scanned)
    count("token hygiene", "dataset-leaks", len(leaks))


def _notebooks() -> list[Path]:
    """Every notebook of the repository (hidden folders, virtual environments and
    ``test-output`` excepted)."""
    tops = [
        d
        for d in REPO.iterdir()
        if d.is_dir()
        and not d.name.startswith(".")
        and d.name != "test-output"
        and not (d / "pyvenv.cfg").exists()
    ]
    found = [*REPO.glob("*.ipynb"), *(p for d in tops for p in d.rglob("*.ipynb"))]
    return sorted(
        p for p in found if not any(part.startswith(".") for part in p.relative_to(REPO).parts)
    )


def _credential_hits(blob: bytes, where: str) -> list[str]:
    return [
        f"{kind} {m.group()[:6]!r}… in {where}"
        for kind, pattern in CREDENTIAL_PATTERNS.items()
        for m in pattern.finditer(blob)
    ]


def test_saved_notebooks_hold_no_credential() -> None:
    """Every notebook in the repository, outputs included: no live test credential (when the
    environment names them) and nothing shaped like a legacy token, a JWT or an
    ``Authorization`` value."""
    live = {
        os.environ.get(name, "")
        for name in (
            "LS_FRAMES_TEST_LEGACY_TOKEN",
            "LS_FRAMES_TEST_ACCESS_TOKEN",
            "LABEL_STUDIO_API_KEY",
        )
    }
    live = {s for s in live if len(s) >= 16}
    notebooks = _notebooks()
    hits: list[str] = []
    for notebook in notebooks:
        blob = notebook.read_bytes()
        hits += _leaks_in(blob, live, notebook.name) + _credential_hits(blob, notebook.name)
        count("token hygiene", "notebook-bytes-scanned", len(blob))
    assert not hits, hits
    count("token hygiene", "notebooks-scanned", len(notebooks))
    # the patterns themselves work
    assert _credential_hits(b"0123456789abcdef" * 2 + b"012345678", "x") == []
    assert _credential_hits(b"0123456789abcdef0123456789abcdef01234567", "x")
    assert _credential_hits(b"eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoxfQ.c2lnbmF0dXJl", "x")


#: Appended to the executed notebook: what a user would naturally display, and an error.
_PROBE = """\
import ls_frames
probe = ls_frames.Client()
display(probe, probe.auth, probe.retry)
print(repr(probe), str(probe))
ls_frames.Client(api_key=os.environ["LABEL_STUDIO_API_KEY"][:-4] + "AAAA").list_projects()
"""


def test_executed_notebook_outputs_hold_no_live_credential(
    label_studio: Any,
    demo_project: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api_key: str,
) -> None:
    """The quick-start notebook executed against the real server with each key kind, plus a
    probe cell (reprs of the client, a failed request's traceback): the saved notebook holds
    no credential."""
    import nbclient
    import nbformat

    source = REPO / "notebooks" / "quickstart.ipynb"
    assert source.is_file(), "notebooks/quickstart.ipynb is part of the repository"
    key = api_key
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", key)
    monkeypatch.setenv("LS_FRAMES_PROJECT", str(demo_project["project_id"]))
    monkeypatch.setenv("LS_FRAMES_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("LS_FRAMES_DISABLE_PROGRESS_BARS", "1")
    nb = nbformat.read(source, as_version=4)
    probe = nbformat.v4.new_code_cell(_PROBE, metadata={"tags": ["raises-exception"]})
    nb.cells.append(probe)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)
    blob = saved.read_bytes()
    outputs = nb.cells[-1].outputs
    assert any(o.get("ename") == "AuthenticationError" for o in outputs), outputs
    assert b"ls_frames.Client(" in blob or b"Client(url=" in blob  # the probe displayed
    secrets = {s for s in (label_studio.legacy_token, label_studio.access_token) if s}
    hits = _leaks_in(blob, secrets, saved.name) + _credential_hits(blob, saved.name)
    assert not hits, hits
    count("token hygiene", "executed-notebook-bytes-scanned", len(blob))
    count("token hygiene", "executed-notebook-leaks", len(hits))
