"""Media sources for tests, demos and benchmarks: S3 on loopback, a plain file server, uploads.

* :class:`MotoS3` runs moto's S3 server (``pip install 'moto[server]'``, in the ``test``
  extra) in a subprocess on ``127.0.0.1`` and a free port; :meth:`MotoS3.put` creates
  buckets and objects with plain HTTP (moto accepts unsigned requests).
* :class:`PlainFileServer` serves files from memory on another loopback address
  (``127.0.0.2`` by default), records the ``Authorization`` header of every request, and
  answers ``/redirect?to=URL`` with a 302, for the rules on plain URLs.
* :func:`upload_files` puts files into a project through the import API without creating
  tasks, and returns their ``/data/upload/...`` references.
* :func:`add_s3_storage` creates an S3 import storage on Label Studio pointing at moto and
  syncs it; the server must run with ``USE_DEFAULT_BANNED_SUBNETS=false`` (see
  :class:`~ls_frames.testing.LocalLabelStudio`).
* :func:`seed_media_project` builds a project whose tasks mix every kind of reference.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ls_frames.testing.images import demo_image
from ls_frames.testing.server import _free_port

__all__ = [
    "MEDIA_LABEL_CONFIG",
    "MediaProject",
    "MediaRef",
    "MotoS3",
    "PlainFileServer",
    "add_s3_storage",
    "resolve_path",
    "seed_media_project",
    "sync_storage",
    "upload_files",
]

MEDIA_LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="kind" toName="image"><Choice value="ok"/><Choice value="bad"/></Choices>
</View>"""

_TIMEOUT = httpx.Timeout(30.0, read=300.0)
S3_KEY_ID = "testing"
S3_SECRET = "testing"  # moto accepts any credentials
S3_REGION = "us-east-1"
# moto checks who asks but not the signature: anonymous requests may create but not read or
# delete objects, so every request names the test credential.
_S3_AUTH = {
    "Authorization": f"AWS4-HMAC-SHA256 Credential={S3_KEY_ID}/20260101/{S3_REGION}/s3/"
    "aws4_request, SignedHeaders=host, Signature=0"
}


class MotoS3:
    """moto's S3 server in a subprocess on ``127.0.0.1``; ``endpoint`` is its URL."""

    def __init__(self, *, port: int | None = None, startup_timeout: float = 60.0) -> None:
        self._port_arg = port
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise RuntimeError("MotoS3 is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        """Start ``python -m moto.server`` and wait until it answers.

        Returns
        -------
        MotoS3
            This server, started.

        Raises
        ------
        RuntimeError
            moto is not installed, exited, or did not answer in time.
        """
        self.port = self._port_arg or _free_port()
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        # moto logs every request on stderr: into a file, as a pipe nobody reads fills up
        # after a few hundred requests and the server blocks on its next log line
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode("utf-8", "replace")
                self._process = None
                raise RuntimeError(
                    "moto's S3 server exited at startup (pip install 'moto[server]'):\n"
                    + err[-2000:]
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.endpoint + "/", timeout=2.0).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto's S3 server did not answer on {self.endpoint}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the subprocess."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def __enter__(self) -> MotoS3:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` (no error when it exists)."""
        answer = httpx.put(f"{self.endpoint}/{bucket}", headers=_S3_AUTH, timeout=_TIMEOUT)
        if answer.status_code not in (200, 409):
            raise RuntimeError(f"moto refused bucket {bucket}: {answer.status_code} {answer.text}")

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "image/png") -> str:
        """Store ``data`` at ``bucket/key`` (creating the bucket); returns ``s3://bucket/key``."""
        self.create_bucket(bucket)
        answer = httpx.put(
            f"{self.endpoint}/{bucket}/{key}",
            content=data,
            headers={**_S3_AUTH, "Content-Type": content_type},
            timeout=_TIMEOUT,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"moto refused {bucket}/{key}: {answer.status_code} {answer.text}")
        return f"s3://{bucket}/{key}"

    def delete(self, bucket: str, key: str) -> None:
        """Remove ``bucket/key``."""
        answer = httpx.delete(f"{self.endpoint}/{bucket}/{key}", headers=_S3_AUTH, timeout=_TIMEOUT)
        if answer.status_code != 204:
            raise RuntimeError(f"moto refused to delete {bucket}/{key}: {answer.status_code}")


class PlainFileServer:
    """An HTTP server for in-memory files on a loopback address other than Label Studio's.

    ``files`` maps a path (``/a.png``) to bytes; :meth:`add` adds more while it runs.
    ``/redirect?to=URL`` answers ``302 Location: URL``. Every request's path and
    ``Authorization`` header (or None) is appended to ``requests``.
    """

    def __init__(self, host: str = "127.0.0.2", files: Mapping[str, bytes] | None = None) -> None:
        self.host = host
        self.files: dict[str, bytes] = dict(files or {})
        self.requests: list[tuple[str, str | None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("PlainFileServer is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def add(self, path: str, data: bytes) -> str:
        """Serve ``data`` at ``path``; returns its absolute URL."""
        self.files[path] = data
        return self.url + path

    def start(self) -> PlainFileServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, self.headers.get("Authorization")))
                parts = urlsplit(self.path)
                if parts.path == "/redirect":
                    target = parse_qs(parts.query).get("to", [""])[0]
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = owner.files.get(parts.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PlainFileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _check(answer: httpx.Response, what: str) -> Any:
    if answer.status_code >= 400:
        raise RuntimeError(f"{what} -> {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def upload_files(http: httpx.Client, project_id: int, files: Mapping[str, bytes]) -> dict[str, str]:
    """Upload ``files`` (name -> bytes) to a project without creating tasks.

    ``http`` is an authenticated client with the server as ``base_url``. Returns name ->
    ``/data/upload/<project>/<prefix>-<name>``, the reference task data uses.
    """
    refs: dict[str, str] = {}
    items = list(files.items())
    for start in range(0, len(items), 100):
        batch = items[start : start + 100]
        # One form field per file: the server reads one file per field name.
        form = [
            (f"file{k}", (name, data, "application/octet-stream"))
            for k, (name, data) in enumerate(batch)
        ]
        body = _check(
            http.post(
                f"/api/projects/{project_id}/import",
                params={"commit_to_project": "false"},
                files=form,
            ),
            "upload files",
        )
        listed = _check(
            http.get(
                f"/api/projects/{project_id}/file-uploads",
                params={"ids": str(list(body["file_upload_ids"]))},
            ),
            "list file uploads",
        )
        by_name = {}
        for item in listed:
            stored = str(item["file"])  # upload/<project>/<8 hex>-<name>
            by_name[stored.rsplit("/", 1)[-1].split("-", 1)[-1]] = "/data/" + stored
        for name, _ in batch:
            refs[name] = by_name[name]
    return refs


def add_s3_storage(
    http: httpx.Client,
    project_id: int,
    s3: MotoS3,
    bucket: str,
    *,
    presign: bool,
    prefix: str = "",
    title: str | None = None,
) -> dict[str, Any]:
    """Create an S3 import storage on ``bucket`` at moto, sync it, return the storage.

    The sync is not recursive: objects below ``prefix`` in sub-folders are not listed.
    """
    storage = _check(
        http.post(
            "/api/storages/s3",
            json={
                "project": project_id,
                "bucket": bucket,
                "prefix": prefix,
                "use_blob_urls": True,
                "presign": presign,
                "presign_ttl": 15,
                "s3_endpoint": s3.endpoint,
                "aws_access_key_id": S3_KEY_ID,
                "aws_secret_access_key": S3_SECRET,
                "region_name": S3_REGION,
                "title": title or bucket,
            },
        ),
        "create S3 storage",
    )
    return sync_storage(http, "s3", int(storage["id"]))


def sync_storage(http: httpx.Client, kind: str, storage_id: int) -> dict[str, Any]:
    """Sync an import storage (``kind``: ``s3``, ``localfiles``, ...); returns it synced.

    A sync is a re-scan, so a failed one is repeated (twice): SQLite's "database is locked"
    on a server busy with other writers ends a sync as ``failed``.
    """
    for attempt in range(3):
        synced = _check(http.post(f"/api/storages/{kind}/{storage_id}/sync"), f"sync {kind}")
        if synced.get("status") in ("completed", "completed_with_errors"):
            return dict(synced)
        time.sleep(1.0 + attempt)
    raise RuntimeError(f"{kind} storage sync ended {synced.get('status')}: {synced}")


def resolve_path(task_id: int, uri: str, endpoint: str = "resolve") -> str:
    """The server path that resolves a storage URI for a task (padded base64url);
    ``endpoint`` is the release's route (``"presign"`` before 1.20)."""
    encoded = base64.urlsafe_b64encode(uri.encode()).decode()
    return f"/tasks/{task_id}/{endpoint}/?fileuri={encoded}"


@dataclass(frozen=True)
class MediaRef:
    """One task of a media project: its reference, what kind it is, its original bytes."""

    task_id: int
    uri: str
    kind: str  # upload | local-files | s3-presign | s3-proxy | url | missing-upload | ...
    data: bytes | None  # None when the reference cannot resolve


@dataclass
class MediaProject:
    """What :func:`seed_media_project` made: the project and one :class:`MediaRef` a task."""

    project_id: int
    refs: list[MediaRef] = field(default_factory=list)
    storages: dict[str, int] = field(default_factory=dict)

    def by_kind(self, kind: str) -> list[MediaRef]:
        return [r for r in self.refs if r.kind == kind]


def seed_media_project(
    url: str,
    headers: Mapping[str, str],
    *,
    s3: MotoS3,
    plain: PlainFileServer,
    local_files_root: str | Path,
    per_kind: int = 2,
    title: str = "ls_frames media",
) -> MediaProject:
    """A project whose tasks (``data.image``) mix every kind of media reference.

    ``per_kind`` tasks each of: ``upload`` (``/data/upload/...``), ``local-files``
    (``/data/local-files/?d=...`` from a synced local-files storage), ``s3-presign`` and
    ``s3-proxy`` (``s3://`` from synced S3 storages at moto, one presigned, one proxied),
    ``url`` (a plain URL on ``plain``); then one each of ``missing-upload`` (an upload
    path that does not exist), ``missing-s3`` (an object deleted after the sync) and
    ``unresolvable-s3`` (a bucket no storage of the project covers). ``local_files_root``
    is the server's ``LOCAL_FILES_DOCUMENT_ROOT`` (files are written below it).
    """
    with httpx.Client(base_url=url, headers=dict(headers), timeout=_TIMEOUT) as http:
        body = {"title": title, "label_config": MEDIA_LABEL_CONFIG}
        project = _check(http.post("/api/projects", json=body), "create project")
        pid = int(project["id"])
        out = MediaProject(project_id=pid)
        originals: dict[str, tuple[str, bytes | None]] = {}  # uri -> (kind, bytes)

        uploads = {f"upload-{k}.png": demo_image(1000 + k) for k in range(per_kind)}
        for name, ref in upload_files(http, pid, uploads).items():
            originals[ref] = ("upload", uploads[name])
        data: bytes | None
        missing = f"/data/upload/{pid}/00000000-missing.png"
        originals[missing] = ("missing-upload", None)
        for k in range(per_kind):
            data = demo_image(3000 + k)
            originals[plain.add(f"/p{pid}/url-{k}.png", data)] = ("url", data)
        json_tasks = [{"data": {"image": uri}} for uri in originals]
        _check(http.post(f"/api/projects/{pid}/import", json=json_tasks), "import tasks")

        folder = Path(local_files_root) / f"ls-frames-media-{pid}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_kind):
            data = demo_image(2000 + k)
            (folder / f"local-{k}.png").write_bytes(data)
            rel = f"{folder.name}/local-{k}.png"
            originals[f"/data/local-files/?d={rel}"] = ("local-files", data)
        local = _check(
            http.post(
                "/api/storages/localfiles",
                json={
                    "project": pid,
                    "path": str(folder),
                    "use_blob_urls": True,
                    "title": "local media",
                },
            ),
            "create local-files storage",
        )
        sync_storage(http, "localfiles", int(local["id"]))
        out.storages["local-files"] = int(local["id"])

        for kind, presign in (("s3-presign", True), ("s3-proxy", False)):
            bucket = f"lsf-{pid}-{kind}"
            for k in range(per_kind):
                data = demo_image((4000 if presign else 5000) + k)
                originals[s3.put(bucket, f"img/{kind}-{k}.png", data)] = (kind, data)
            gone = s3.put(bucket, "img/deleted.png", b"soon gone")
            storage = add_s3_storage(http, pid, s3, bucket, presign=presign, prefix="img/")
            out.storages[kind] = int(storage["id"])
            s3.delete(bucket, "img/deleted.png")
            originals[gone] = (f"missing-{kind}", None)
        unresolvable = f"s3://lsf-{pid}-nobody/img/x.png"
        _check(
            http.post(f"/api/projects/{pid}/import", json=[{"data": {"image": unresolvable}}]),
            "import task",
        )
        originals[unresolvable] = ("unresolvable-s3", None)

        # Raw task data (the export shape, storage URIs not rewritten).
        tasks = _check(
            http.get(
                "/api/tasks", params={"project": pid, "page_size": 1000, "resolve_uri": "false"}
            ),
            "list tasks",
        )
    items = tasks["tasks"] if isinstance(tasks, dict) else tasks
    by_uri = {}
    for task in items:
        by_uri[_raw_uri(task)] = int(task["id"])
    for uri, (kind, data) in originals.items():
        if uri not in by_uri:
            raise RuntimeError(f"no task of project {pid} holds {uri!r} ({kind})")
        out.refs.append(MediaRef(task_id=by_uri[uri], uri=uri, kind=kind, data=data))
    out.refs.sort(key=lambda r: r.task_id)
    return out


def _raw_uri(task: Mapping[str, Any]) -> str:
    """The task's image reference, undoing the task API's ``/resolve/`` rewrite if any."""
    value = str(task["data"]["image"])
    if "/resolve/?fileuri=" in value:
        encoded = value.split("fileuri=", 1)[1]
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return value
