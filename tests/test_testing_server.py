"""ls_frames.testing against a real Label Studio: the server, the credentials, the seed."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import session_capabilities
from ls_frames.errors import ConfigurationError
from ls_frames.testing import LocalLabelStudio, find_executable
from ls_frames.testing.media import add_s3_storage
from ls_frames.testing.seed import auth_headers, demo_tasks
from ls_frames.testing.server import _clean_environ, _free_port, _port_is_free
from ls_frames.testing.wsgi import gunicorn_command, gunicorn_config
from tests.needs import missing

FULL_SERIALIZATION = {
    "predictions": {"only_id": False},
    "drafts": {"only_id": False},
    "annotations__completed_by": {"only_id": False},
}


@pytest.fixture
def listening_socket() -> Iterator[int]:
    """A port on 127.0.0.1 that something is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


# -- no server needed ---------------------------------------------------------------------


def test_busy_port_is_detected_and_refused(listening_socket: int, tmp_path: Any) -> None:
    assert not _port_is_free(listening_socket)
    assert _free_port() != listening_socket
    fake_binary = tmp_path / "label-studio"
    fake_binary.write_text("#!/bin/sh\nexit 1\n")
    fake_binary.chmod(0o755)
    server = LocalLabelStudio(executable=fake_binary, port=listening_socket)
    with pytest.raises(ConfigurationError, match=f"port {listening_socket}.*busy"):
        server.start()
    assert not server.running


def _plain_bind_works(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_port_left_in_time_wait_is_free_for_a_server() -> None:
    """The connections of a server that closed them first sit in TIME_WAIT on its port;
    the free-port check binds as a server does (SO_REUSEADDR) and takes the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first
            client.recv(1)  # its FIN arrived
    if sys.platform == "linux":
        assert not _plain_bind_works(port)  # what the check used to do
    assert _port_is_free(port)


def test_missing_executable_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LS_FRAMES_LABEL_STUDIO", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ConfigurationError, match=r"python -m ls_frames\.testing install"):
        find_executable()
    with pytest.raises(ConfigurationError, match="not an executable"):
        find_executable("/nonexistent/label-studio")


def test_leaky_environment_is_cleaned() -> None:
    env = _clean_environ(
        {
            "HOST": "h",
            "PORT": "1",
            "USERNAME": "u",
            "PASSWORD": "p",
            "LABEL_STUDIO_PORT": "2",
            "HEARTEX_HOST": "x",
            "LABEL_STUDIO_URL": "u",
            "PATH": "/bin",
            "HOME": "/root",
        }
    )
    assert env == {"PATH": "/bin", "HOME": "/root"}


def test_repr_holds_no_secret() -> None:
    server = LocalLabelStudio(password="pa55word-secret", legacy_token="legacy-secret-123")
    text = repr(server) + str(vars(server).get("username"))
    assert "secret" not in text


def test_wsgi_options_are_checked_before_anything_starts() -> None:
    with pytest.raises(ConfigurationError, match="wsgi must be one of"):
        LocalLabelStudio(wsgi="uwsgi-typo")
    with pytest.raises(ConfigurationError, match="need a WSGI server"):
        LocalLabelStudio(workers=2)
    with pytest.raises(ConfigurationError, match="need a WSGI server"):
        LocalLabelStudio(worker_timeout=15)
    with pytest.raises(ConfigurationError, match="workers must be"):
        LocalLabelStudio(wsgi="gunicorn", workers=0)


def test_the_gunicorn_command_serves_loopback_with_workers_and_a_timeout(tmp_path: Any) -> None:
    (tmp_path / "label-studio").write_text("")
    with pytest.raises(FileNotFoundError, match=r"gunicorn==\d"):
        gunicorn_command(
            tmp_path / "label-studio", tmp_path, tmp_path, port=1, workers=1, worker_timeout=1
        )
    (tmp_path / "gunicorn").write_text("")
    config = gunicorn_config(tmp_path)
    assert "connections.close_all()" in config.read_text()
    command = gunicorn_command(
        tmp_path / "label-studio",
        tmp_path / "pkg",
        config,
        port=18000,
        workers=2,
        worker_timeout=2.5,
    )
    pairs = dict(zip(command[1:-1:2], command[2:-1:2], strict=False))
    assert pairs["--bind"] == "127.0.0.1:18000" and pairs["--workers"] == "2"
    assert pairs["--timeout"] == "3"  # whole seconds, rounded up
    assert pairs["--chdir"] == str(tmp_path / "pkg") and "--preload" in command
    assert command[-1] == "core.wsgi:application"
    unlimited = gunicorn_command(
        tmp_path / "label-studio", tmp_path, config, port=1, workers=1, worker_timeout=None
    )
    assert unlimited[unlimited.index("--timeout") + 1] == "86400"


def test_a_wsgi_server_names_its_variables_for_the_production_fixture() -> None:
    server = LocalLabelStudio(wsgi="gunicorn", workers=2, worker_timeout=3)
    server.port = 18000
    names = server.env_exports()
    assert names["LS_FRAMES_TEST_PRODUCTION_URL"] == "http://127.0.0.1:18000"
    assert names["LS_FRAMES_TEST_PRODUCTION_WORKERS"] == "2"
    assert names["LS_FRAMES_TEST_PRODUCTION_WORKER_TIMEOUT"] == "3"
    assert "LS_FRAMES_TEST_URL" not in names  # the session's server keeps its own


def test_serve_refuses_workers_without_a_wsgi_server(capsys: pytest.CaptureFixture[str]) -> None:
    from ls_frames.testing.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "--workers", "2"])
    assert info.value.code == 2 and "need a WSGI server" in capsys.readouterr().err


def test_demo_tasks_need_five() -> None:
    with pytest.raises(ValueError):
        demo_tasks(4)


# -- the session's server -----------------------------------------------------------------


@pytest.mark.server
@pytest.mark.compat
def test_health(label_studio: Any) -> None:
    answer = httpx.get(f"{label_studio.url}/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "UP"}
    assert label_studio.url.startswith("http://127.0.0.1:")


@pytest.mark.server
@pytest.mark.compat
def test_both_credentials_work(label_studio: Any, api_key: str) -> None:
    headers = auth_headers(label_studio.url, api_key)
    scheme = headers["Authorization"].split()[0]
    assert scheme == ("Token" if api_key == label_studio.legacy_token else "Bearer")
    answer = httpx.get(f"{label_studio.url}/api/current-user/whoami", headers=headers)
    assert answer.status_code == 200
    assert "@" in answer.json()["email"]


@pytest.mark.server
@pytest.mark.compat
def test_pat_is_a_refresh_token(label_studio: Any, access_token: str) -> None:
    answer = httpx.post(f"{label_studio.url}/api/token/refresh/", json={"refresh": access_token})
    assert answer.status_code == 200
    assert answer.json()["access"].count(".") == 2


@pytest.mark.server
@pytest.mark.compat
def test_the_release_is_the_one_asked_for_and_missing_credentials_are_refused(
    label_studio: Any,
) -> None:
    """The credential kinds the suite leaves out on this release (see ``api_key``) really
    are refused by it, and the server runs the release the run was set up for."""
    caps = session_capabilities()
    assert label_studio.version == caps.version
    whoami = f"{label_studio.url}/api/current-user/whoami"
    legacy = httpx.get(whoami, headers={"Authorization": f"Token {label_studio.legacy_token}"})
    assert legacy.status_code == (200 if caps.legacy_tokens else 401), legacy.text[:200]
    if caps.personal_access_tokens:
        assert label_studio.access_token
    else:
        # no token endpoints at all: a refresh token cannot even be exchanged
        refresh = httpx.post(f"{label_studio.url}/api/token/refresh/", json={"refresh": "a.b.c"})
        assert refresh.status_code == 404, refresh.text[:200]
        assert label_studio.access_token is None
    assert label_studio.admin_key in (label_studio.access_token, label_studio.legacy_token)


@pytest.mark.server
@pytest.mark.compat
@pytest.mark.parametrize(
    "header", ["Token " + "0" * 40, "Bearer not.a.jwt"], ids=["token", "bearer"]
)
def test_wrong_token_is_401(label_studio: Any, header: str) -> None:
    answer = httpx.get(f"{label_studio.url}/api/projects", headers={"Authorization": header})
    assert answer.status_code == 401


@pytest.mark.server
def test_demo_project_exports_what_was_seeded(
    label_studio: Any, demo_project: dict[str, Any], api_key: str
) -> None:
    counts = demo_project["counts"]
    pid = demo_project["project_id"]
    with httpx.Client(
        base_url=label_studio.url, timeout=120, headers=auth_headers(label_studio.url, api_key)
    ) as http:
        created = http.post(
            f"/api/projects/{pid}/exports/",
            json={"title": "seed check", "serialization_options": FULL_SERIALIZATION},
        )
        assert created.status_code == 201, created.text
        snapshot = http.get(f"/api/projects/{pid}/exports/{created.json()['id']}").json()
        assert snapshot["status"] == "completed"
        assert snapshot["counters"]["task_number"] == counts["tasks"]
        raw = http.get(
            f"/api/projects/{pid}/exports/{snapshot['id']}/download", params={"exportType": "JSON"}
        ).content
    assert hashlib.md5(raw).hexdigest() == snapshot["md5"]
    tasks = json.loads(raw)
    anns = [a for t in tasks for a in t["annotations"]]
    items = [r for a in anns for r in a["result"]]
    preds = [p for t in tasks for p in t["predictions"]]
    drafts = [d for t in tasks for d in t["drafts"]]

    assert sorted(t["id"] for t in tasks) == demo_project["task_ids"]
    assert len(tasks) == counts["tasks"]
    assert sum(1 for t in tasks if t["annotations"]) == counts["tasks_with_annotations"]
    assert len(anns) == counts["annotations"]
    assert sum(a["was_cancelled"] for a in anns) == counts["skipped_annotations"] == 1
    assert sum(a["ground_truth"] for a in anns) == counts["ground_truth_annotations"] == 1
    assert len(items) == counts["result_items"]
    assert sum(r["type"] == "relation" for r in items) == counts["relations"]
    assert len(preds) == counts["predictions"]
    assert sum(len(p["result"]) for p in preds) == counts["prediction_result_items"]
    assert all(p["model_version"].startswith("demo-model") and p["score"] for p in preds)
    assert len(drafts) == counts["drafts"] == len(demo_project["draft_ids"])
    assert sorted(d["id"] for d in drafts) == sorted(demo_project["draft_ids"])
    assert sum(len(d["result"]) for d in drafts) == counts["draft_result_items"]
    assert all(isinstance(a["completed_by"], dict) for a in anns)
    # A per-region choice shares its box's id.
    poses = [r for r in items if r.get("from_name") == "pose"]
    box_ids = {r["id"] for r in items if r.get("type") == "rectanglelabels"}
    assert poses and all(r["id"] in box_ids for r in poses)


# -- a second, short-lived server ---------------------------------------------------------


@pytest.mark.server
def test_start_avoids_busy_port_and_stop_leaves_nothing(
    listening_socket: int, moto_s3: Any
) -> None:
    try:
        find_executable()
    except ConfigurationError:
        missing("label-studio")
    server = LocalLabelStudio()
    with server:
        assert server.port != listening_socket
        assert httpx.get(f"{server.url}/health").json() == {"status": "UP"}
        # A test server accepts a storage on loopback S3 (USE_DEFAULT_BANNED_SUBNETS=false).
        with httpx.Client(
            base_url=server.url, timeout=60, headers=auth_headers(server.url, server.legacy_token)
        ) as http:
            created = http.post("/api/projects", json={"title": "loopback s3"})
            assert created.status_code == 201, created.text
            pid = int(created.json()["id"])
            moto_s3.put("fresh-server", "img/a.png", b"png")
            storage = add_s3_storage(
                http, pid, moto_s3, "fresh-server", presign=False, prefix="img/"
            )
            assert storage["last_sync_count"] == 1
        server_pid, data_dir = server.pid, server.data_dir
        assert server_pid is not None and data_dir is not None and data_dir.is_dir()
        assert server.password not in repr(server)
        assert server.legacy_token not in repr(server)
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.killpg(server_pid, 0)
    assert not data_dir.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)


@pytest.mark.server
def test_a_restart_on_the_same_port_works_at_once(tmp_path: Any) -> None:
    """A server stopped while a client holds a connection closes it first, which leaves
    the connection in TIME_WAIT on the server's port for a minute; starting again on that
    port works at once all the same."""
    try:
        find_executable()
    except ConfigurationError:
        missing("label-studio")
    data_dir = tmp_path / "data"
    first = LocalLabelStudio(data_dir=data_dir)
    with httpx.Client(timeout=10) as held:  # open across the stop
        with first:
            port = first.port
            assert held.get(f"{first.url}/health").json() == {"status": "UP"}
        assert port is not None and _port_is_free(port)
        if sys.platform == "linux":  # the TIME_WAIT is there: a plain bind is refused
            assert not _plain_bind_works(port)
    again = LocalLabelStudio(
        data_dir=data_dir, port=port, password=first.password, legacy_token=first.legacy_token
    )
    with again:
        assert again.port == port
        assert httpx.get(f"{again.url}/health", timeout=10).json() == {"status": "UP"}
