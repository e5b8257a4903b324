"""A small fake Label Studio for what a real server cannot be made to do on demand.

It is an ``httpx.MockTransport`` handler (a callable class) with just enough state for the
export endpoints: snapshots whose status follows a script, conversions that fail with a
traceback, download streams cut halfway, 5xx storms, expiring access tokens and
Enterprise's "not converted yet". Everything the real server can show is tested against
the real server instead (see ``tests/test_client_server.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

LEGACY = "0123456789abcdef0123456789abcdef01234567"


def make_jwt(token_type: str, lifetime: int = 300, **extra: Any) -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    payload = {"token_type": token_type, "iat": now, "exp": now + lifetime, **extra}
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}.c2lnbmF0dXJl"


PAT = make_jwt("refresh", lifetime=10**8, jti="pat")


@dataclass
class FakeExport:
    id: int
    title: str
    statuses: list[str]  # consumed one per GET; the last one stays
    body: bytes
    traceback: str | None = None
    converted: list[dict[str, Any]] = field(default_factory=list)
    conversion_statuses: dict[str, list[str]] = field(default_factory=dict)
    created_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    )

    def status(self, advance: bool) -> str:
        status = self.statuses[0]
        if advance and len(self.statuses) > 1:
            self.statuses.pop(0)
        return status


class CutStream(httpx.SyncByteStream):
    """Yields ``data`` and then breaks the connection after ``cut_at`` bytes."""

    def __init__(self, data: bytes, cut_at: int | None) -> None:
        self.data, self.cut_at = data, cut_at

    def __iter__(self) -> Iterator[bytes]:
        end = len(self.data) if self.cut_at is None else self.cut_at
        for i in range(0, end, 4096):
            yield self.data[i : min(i + 4096, end)]
        if self.cut_at is not None:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


class FakeLabelStudio:
    """Route table + state. Faults are switched on by setting attributes in a test."""

    def __init__(self, *, prefix: str = "", enterprise: bool = False) -> None:
        self.prefix = prefix.rstrip("/")
        self.enterprise = enterprise
        self.exports: dict[int, FakeExport] = {}
        self.requests: list[httpx.Request] = []
        self.access_lifetime = 300
        self.issued_access: list[str] = []
        self.revoked: set[str] = set()
        self.fail_next: list[httpx.Response] = []  # answered before routing, in order
        self.cuts: list[int] = []  # byte offsets at which successive downloads break
        self.honour_range = True
        self.create_delay_fault: str | None = None  # "timeout" | "504" | "500"
        # the statuses a created snapshot goes through (a killed build: ["in_progress"])
        self.created_statuses: list[str] | None = None
        self.delete_fails = False  # a snapshot's DELETE answers 500
        # the create killed by a worker timeout: the snapshot stays in_progress and the
        # answer is a "500", a gateway's "504", or a dropped connection ("drop")
        self.create_kill: str | None = None
        self.page_faults: list[httpx.Response] = []  # answered to task-list pages, in order
        self.corrupt_download = False
        # Media: files under /data/upload/...; storage URIs resolved to a presigned URL
        # (str: a 303 to it) or proxied (bytes); an older server routes only /presign/.
        self.uploads: dict[str, bytes] = {}
        self.storage: dict[str, str | bytes] = {}
        self.old_server = False
        self.release: str | None = "1.23.2"  # what /api/version says (None: no such route)
        self.proxy_range_cap: int | None = None  # like RESOLVER_PROXY_MAX_RANGE_SIZE
        # The Data Manager (what sync asks): tasks with their updated_at on a clock the
        # test moves, views, and snapshots of the tasks a view selects.
        self.tasks: dict[int, dict[str, Any]] = {}
        self.views: dict[int, dict[str, Any]] = {}
        self.deleted_views: list[int] = []
        self.label_config = '<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>'
        self.clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.project_counts = True  # the project answers total_predictions_number (live)
        # the project list (GET /api/projects/), for the calls that name a project by title
        self.project_titles: dict[int, str] = {12: "Street detection"}

    # -- helpers ------------------------------------------------------------------------
    def add_export(
        self,
        body: bytes = b"[]",
        statuses: list[str] | None = None,
        title: str = "t",
        traceback: str | None = None,
    ) -> FakeExport:
        eid = len(self.exports) + 1
        exp = FakeExport(eid, title, statuses or ["completed"], body, traceback)
        self.exports[eid] = exp
        return exp

    # -- the Data Manager -----------------------------------------------------------------
    def tick(self, seconds: float = 1.0) -> None:
        """Move the server's clock."""
        self.clock += timedelta(seconds=seconds)

    def now(self) -> str:
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def put_task(
        self,
        tid: int,
        *,
        annotations: int = 0,
        predictions: int = 0,
        touch: bool = True,
        recount: bool = True,
    ) -> dict[str, Any]:
        """Create or change task ``tid`` with that many annotations and predictions; the
        server sets ``updated_at`` to its now unless ``touch`` is false, and its stored
        counters unless ``recount`` is false (the bulk "delete predictions" of 1.23.2 does
        neither)."""
        old = self.tasks.get(tid)
        task = {
            "id": tid,
            "data": {"image": f"/data/upload/{tid}.png"},
            "annotations": [
                {
                    "id": tid * 100 + i,
                    "completed_by": 1,
                    "was_cancelled": False,
                    "result": [],
                    "created_at": self.now(),
                    "updated_at": self.now(),
                }
                for i in range(annotations)
            ],
            "predictions": [
                {
                    "id": tid * 100 + i,
                    "model_version": "m",
                    "score": 0.5,
                    "result": [],
                    "created_at": self.now(),
                }
                for i in range(predictions)
            ],
            "created_at": old["created_at"] if old else self.now(),
            "updated_at": self.now() if touch or old is None else old["updated_at"],
            "total_annotations": annotations,
            "cancelled_annotations": 0,
            "total_predictions": predictions
            if recount or old is None
            else old["total_predictions"],
        }
        self.tasks[tid] = task
        return task

    def _matches(self, task: dict[str, Any], filters: dict[str, Any]) -> bool:
        for item in filters.get("items", []):
            if item["filter"] == "filter:tasks:updated_at":
                value = item["value"]
                if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", value):
                    raise ValueError(f"the Data Manager cannot parse {value!r}")
                if not task["updated_at"] > value:
                    return False
            elif item["filter"] == "filter:tasks:id":
                if not item["value"]["min"] <= task["id"] <= item["value"]["max"]:
                    return False
            else:
                raise AssertionError(f"no fake filter {item['filter']}")
        return True

    def _dm_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """A task as the Data Manager's list answers it with ``fields=all``."""
        out: dict[str, Any] = json.loads(json.dumps(task))
        out.update(annotators=[1], annotations_results="", is_labeled=False, updated_by=[])
        for ann in out["annotations"]:
            ann["created_username"] = " admin@example.com, 1"
        return out

    def _task_list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params.get("fields") == "all" and self.page_faults:
            return self.page_faults.pop(0)
        query = json.loads(params["query"]) if "query" in params else {}
        filters = query.get("filters", {"items": []})
        try:
            hits = [t for _, t in sorted(self.tasks.items()) if self._matches(t, filters)]
            if query.get("ordering") == ["-tasks:id"]:
                hits.reverse()
        except ValueError as exc:
            return httpx.Response(500, json={"detail": str(exc)})
        size, page = int(params["page_size"]), int(params["page"])
        fields = params.get("include", "id").split(",")
        rows = [
            self._dm_task(t)
            if params.get("fields") == "all"
            else {f: t[f] for f in fields if f in t}
            for t in hits[(page - 1) * size : page * size]
        ]
        return httpx.Response(
            200,
            json={
                "tasks": rows,
                "total": len(hits),
                "total_annotations": sum(t["total_annotations"] for t in hits),
                "total_predictions": sum(t["total_predictions"] for t in hits),
            },
        )

    def _snapshot_body(self, body: dict[str, Any]) -> bytes:
        view = (body.get("task_filter_options") or {}).get("view")
        filters = self.views[int(view)]["filters"] if view is not None else {"items": []}
        tasks = [t for _, t in sorted(self.tasks.items()) if self._matches(t, filters)]
        return json.dumps(tasks).encode()

    def _export_json(self, exp: FakeExport, advance: bool) -> dict[str, Any]:
        converted = []
        for item in exp.converted:
            seq = exp.conversion_statuses.get(item["export_type"], ["completed"])
            status = seq[0]
            if advance and len(seq) > 1:
                seq.pop(0)
            converted.append({**item, "status": status})
        return {
            "id": exp.id,
            "title": exp.title,
            "status": exp.status(advance),
            "md5": hashlib.md5(exp.body).hexdigest(),
            "counters": {"task_number": 3},
            "created_by": {"id": 1},
            "created_at": exp.created_at,
            "finished_at": None,
            "converted_formats": converted,
            "traceback": exp.traceback,
        }

    def _auth(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("Authorization", "")
        if header == f"Token {LEGACY}":
            return None
        if header.startswith("Bearer "):
            token = header[7:]
            if token in self.revoked or token not in self.issued_access:
                return httpx.Response(
                    401, json={"detail": "Given token not valid for any token type"}
                )
            return None
        return httpx.Response(401, json={"detail": "Authentication credentials were not provided."})

    # -- the handler --------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if self.prefix:
            assert path.startswith(self.prefix + "/"), path
            path = path[len(self.prefix) :]
        if path == "/api/token/refresh/":
            refresh = json.loads(request.content)["refresh"]
            if refresh in self.revoked or refresh != PAT:
                return httpx.Response(401, json={"detail": "Token is invalid or expired"})
            access = make_jwt("access", lifetime=self.access_lifetime, n=len(self.issued_access))
            self.issued_access.append(access)
            return httpx.Response(200, json={"access": access})
        if self.fail_next:
            return self.fail_next.pop(0)
        if path == "/api/version" and self.release is not None:  # answered to anyone
            return httpx.Response(200, json={"release": self.release})
        denied = self._auth(request)
        if denied is not None:
            return denied
        return self._route(request, path)

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        m = re.fullmatch(r"/api/projects/(\d+)/exports/?", path)
        if m and request.method == "GET":
            items = [self._export_json(e, False) for e in reversed(self.exports.values())]
            return httpx.Response(200, json=items)
        if m and request.method == "POST":
            body = json.loads(request.content)
            statuses = list(self.created_statuses or ["completed"])
            created = self.add_export(b"[]", statuses, title=body.get("title", ""))
            if self.tasks:
                created.body = self._snapshot_body(body)
                created.created_at = self.now()
            created.request_body = body  # type: ignore[attr-defined]
            if self.create_kill is not None:
                created.statuses = ["in_progress"]
                if self.create_kill == "drop":
                    raise httpx.RemoteProtocolError("Server disconnected", request=request)
                status = 504 if self.create_kill == "504" else 500
                return httpx.Response(status, text=f"<html><title>{status}</title></html>")
            if self.create_delay_fault == "timeout":
                raise httpx.ReadTimeout("read timed out", request=request)
            if self.create_delay_fault == "504":
                return httpx.Response(504, text="<html><title>504 Gateway Time-out</title></html>")
            if self.create_delay_fault == "500":  # a worker killed by its timeout
                return httpx.Response(500, text="<html><title>Internal Server Error</title></html>")
            return httpx.Response(201, json=self._export_json(created, False))
        if path == "/api/tasks/" and request.method == "GET":
            return self._task_list(request)
        if path == "/api/users/" and request.method == "GET":
            user = {"id": 1, "email": "admin@example.com", "first_name": "", "last_name": ""}
            return httpx.Response(200, json=[user])
        if path == "/api/dm/views/" and request.method == "POST":
            body = json.loads(request.content)
            vid = 1 + max([*self.views, *self.deleted_views, 0])
            self.views[vid] = {"id": vid, "project": body["project"], **body["data"]}
            return httpx.Response(201, json=self.views[vid])
        if path == "/api/dm/views/" and request.method == "GET":
            return httpx.Response(200, json=list(self.views.values()))
        m = re.fullmatch(r"/api/dm/views/(\d+)/", path)
        if m and request.method == "DELETE":
            self.views.pop(int(m.group(1)))
            self.deleted_views.append(int(m.group(1)))
            return httpx.Response(204)
        if re.fullmatch(r"/api/projects/(\d+)/export/formats", path):
            formats = [{"name": "JSON", "title": "JSON"}, {"name": "CSV", "title": "CSV"}]
            return httpx.Response(200, json=formats)
        if path == "/api/projects/" and request.method == "GET":
            listed = [{"id": i, "title": t} for i, t in sorted(self.project_titles.items())]
            return httpx.Response(200, json={"count": len(listed), "next": None, "results": listed})
        m = re.fullmatch(r"/api/projects/(\d+)/?", path)
        if m and request.method == "GET":
            title = self.project_titles.get(int(m.group(1)), "fake")
            project = {
                "id": int(m.group(1)),
                "title": title,
                "label_config": self.label_config,
                "task_number": len(self.tasks),
            }
            if self.project_counts:
                project["total_predictions_number"] = sum(
                    len(t["predictions"]) for t in self.tasks.values()
                )
            return httpx.Response(200, json=project)
        m = re.fullmatch(r"/api/projects/(\d+)/exports/(\d+)", path)
        if m:
            exp = self.exports.get(int(m.group(2)))
            if exp is None:
                return httpx.Response(404, json={"detail": "Not found."})
            if request.method == "DELETE":
                if self.delete_fails:
                    return httpx.Response(500, text="busy")
                del self.exports[exp.id]
                return httpx.Response(204)
            return httpx.Response(200, json=self._export_json(exp, True))
        m = re.fullmatch(r"/api/projects/(\d+)/exports/(\d+)/convert", path)
        if m:
            exp = self.exports[int(m.group(2))]
            etype = json.loads(request.content)["export_type"]
            if any(c["export_type"] == etype for c in exp.converted):
                return httpx.Response(
                    400, json={"detail": f"Conversion to {etype} already started"}
                )
            cid = 100 + len(exp.converted)
            exp.converted.append({"id": cid, "export_type": etype, "traceback": None})
            if etype.startswith("FAIL"):
                exp.converted[-1]["traceback"] = "Traceback (most recent call last):\nKeyError: 'x'"
            return httpx.Response(200, json={"export_type": etype, "converted_format": cid})
        m = re.fullmatch(r"/api/projects/(\d+)/exports/(\d+)/download", path)
        if m:
            return self._download(request, self.exports[int(m.group(2))])
        if path.startswith("/data/upload/"):
            data = self.uploads.get(path)
            if data is None:  # what 1.23.2 answers for an upload it has no record of
                return httpx.Response(500, json={"detail": "'NoneType' object has no attribute"})
            return self._ranged(request, data, {"Content-Type": "image/png"})
        m = re.fullmatch(r"/tasks/(\d+)/(resolve|presign)/", path)
        if m:
            return self._resolve(request, m.group(2))
        return httpx.Response(404, json={"detail": f"no fake route for {request.method} {path}"})

    def _ranged(
        self, request: httpx.Request, data: bytes, headers: dict[str, str], cap: int | None = None
    ) -> httpx.Response:
        """``data`` honouring ``Range: bytes=N-`` (at most ``cap`` bytes after the first
        byte, like Label Studio's storage proxy), cut where ``self.cuts`` says."""
        headers = dict(headers)
        start, status, end = 0, 200, len(data)
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if match and self.honour_range:
            start, status = int(match.group(1)), 206
            if cap is not None and start > 0:
                end = min(end, start + cap)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        body = data[start:end]
        headers["Content-Length"] = str(len(body))
        cut = self.cuts.pop(0) if self.cuts else None
        cut_at = None if cut is None else max(0, min(cut - start, len(body)))
        return httpx.Response(status, headers=headers, stream=CutStream(body, cut_at))

    def _resolve(self, request: httpx.Request, route: str) -> httpx.Response:
        if route == "resolve" and self.old_server:
            return httpx.Response(
                404,
                text="<html><title>Not Found</title></html>",
                headers={"Content-Type": "text/html; charset=utf-8"},
            )
        raw = request.url.params.get("fileuri", "")
        uri = base64.urlsafe_b64decode(raw.encode()).decode()
        target = self.storage.get(uri)
        if target is None:
            return httpx.Response(404)  # the resolve view's own, empty 404
        if isinstance(target, str) and target.startswith("data:"):  # before 1.20, no proxy
            return httpx.Response(
                500, json={"detail": "Unsafe redirect to URL with protocol 'data'"}
            )
        if isinstance(target, str):
            return httpx.Response(303, headers={"Location": target})
        etag = f'"11{hashlib.md5(target).hexdigest()}"'
        return self._ranged(
            request, target, {"Content-Type": "image/png", "ETag": etag}, cap=self.proxy_range_cap
        )

    def _download(self, request: httpx.Request, exp: FakeExport) -> httpx.Response:
        etype = request.url.params.get("exportType", "JSON")
        if exp.status(False) != "completed":
            return httpx.Response(404, json={"detail": "Export is not completed"})
        data = exp.body if etype == "JSON" else f"converted {etype}\n".encode() * 1000
        if etype != "JSON" and self.enterprise:
            conv = [c for c in exp.converted if c["export_type"] == etype]
            if not conv or exp.conversion_statuses.get(etype, ["completed"])[0] != "completed":
                return httpx.Response(404, json={"detail": f"{etype} format is not converted yet"})
        if self.corrupt_download:
            data = data[:-1] + bytes([data[-1] ^ 1])
        headers = {
            "Content-Disposition": f'attachment; filename="export/1/../../evil-{exp.id}.json"',
            "Content-Type": "application/json",
        }
        start = 0
        rng = request.headers.get("Range")
        status = 200
        if rng and self.honour_range:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))  # type: ignore[union-attr]
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            status = 206
        cut = self.cuts.pop(0) if self.cuts else None
        body = data[start:]
        cut_at = None if cut is None else max(0, min(cut - start, len(body)))
        return httpx.Response(status, headers=headers, stream=CutStream(body, cut_at))


def client_for(fake: FakeLabelStudio, key: str = LEGACY, url: str = "https://ls.test") -> Any:
    """An ``ls_frames.Client`` wired to the fake, with retries that never sleep."""
    import ls_frames

    sleeps: list[float] = []
    retry = ls_frames.RetryPolicy(sleep=sleeps.append)
    client = ls_frames.Client(url, key, transport=httpx.MockTransport(fake), retry=retry)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client
