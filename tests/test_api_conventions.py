"""One vocabulary over the public surface, checked on the signatures; the deprecation
path of every renamed argument; the errors and the bounded secret registry."""

from __future__ import annotations

import inspect
import typing
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

import ls_frames
from ls_frames import errors
from ls_frames.frontends import cli

PROJECT_FUNCTIONS = [
    "load_project",
    "export_project",
    "snapshot_project",
    "sync_parquet",
    "download_project",
]
PATH_READERS = {
    "read_parquet": "path",
    "read_storage": "path",
    "read_delta": "uri",  # a folder or an s3:// URI
    "compact_delta": "uri",
    "read_export": "source",
    "to_parquet": "source",
}


def _public_callables() -> dict[str, Any]:
    return {
        n: getattr(ls_frames, n)
        for n in ls_frames.__all__
        if callable(getattr(ls_frames, n)) and not inspect.isclass(getattr(ls_frames, n))
    }


def _params(fn: Any) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(fn).parameters)


def test_the_source_argument_comes_first_and_is_named_by_kind() -> None:
    for name in PROJECT_FUNCTIONS:
        assert next(iter(_params(getattr(ls_frames, name)))) == "project", name
    for name, first in PATH_READERS.items():
        assert next(iter(_params(getattr(ls_frames, name)))) == first, name
    panel = _params(ls_frames.ExportPanel.__init__)
    assert list(panel)[:2] == ["self", "project"]


def test_the_output_folder_is_out_dir_everywhere() -> None:
    for name in ("export_project", "sync_parquet", "to_parquet"):
        assert list(_params(getattr(ls_frames, name)))[1] == "out_dir", name
    assert "out_dir" not in _params(ls_frames.read_parquet)  # an input, not an output


def test_client_is_keyword_only_everywhere() -> None:
    found = 0
    for name, fn in {**_public_callables(), "ExportPanel": ls_frames.ExportPanel.__init__}.items():
        p = _params(fn).get("client")
        if p is not None:
            found += 1
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, name
            assert p.default is None, name
    assert found >= 7


def test_timeout_is_the_wait_deadline_and_http_timeouts_are_named_so() -> None:
    for name in ("load_project", "export_project", "snapshot_project", "sync_parquet"):
        assert _params(getattr(ls_frames, name))["timeout"].default is None, name
    assert _params(ls_frames.ExportPanel.__init__)["timeout"].default is None
    assert "http_timeout" in _params(ls_frames.Client.__init__)
    assert "timeout" not in _params(ls_frames.Client.__init__)
    assert "http_timeout" in _params(ls_frames.Client.create_export)
    assert "timeout" not in _params(ls_frames.Client.create_export)
    assert "http_timeout" in _params(ls_frames.fetch_media)
    assert "timeout" not in _params(ls_frames.fetch_media)


def test_project_functions_forward_the_same_options() -> None:
    load = _params(ls_frames.load_project)
    export = _params(ls_frames.export_project)
    for option in (
        "tables",
        "workers",
        "label_config",
        "task_filter",
        "annotation_filter",
        "serialization",
        "export_id",
        "keep_file",
        "keep_snapshot",
        "timeout",
        "progress",
    ):
        assert option in load and option in export, option
    assert "compression" in export and "compression" in _params(ls_frames.sync_parquet)


def test_label_config_false_means_none_and_none_means_find_it() -> None:
    for name in (
        "load_project",
        "export_project",
        "sync_parquet",
        "read_export",
        "to_parquet",
        "read_parquet",
        "read_storage",
    ):
        hint = typing.get_type_hints(getattr(ls_frames, name))["label_config"]
        assert False in _literal_values(hint) and bool not in typing.get_args(hint), name


def _literal_values(hint: Any) -> set[Any]:
    values: set[Any] = set()
    for arg in typing.get_args(hint):
        if typing.get_origin(arg) is typing.Literal:
            values |= set(typing.get_args(arg))
    return values


def test_closed_sets_are_literals() -> None:
    for name in ("load_project", "read_export", "read_parquet", "read_storage", "read_delta"):
        hint = typing.get_type_hints(getattr(ls_frames, name))["dtype_backend"]
        assert set(typing.get_args(hint)) == {"numpy_nullable", "pyarrow"}, name
    for name in ("to_parquet", "export_project", "sync_parquet"):
        hint = typing.get_type_hints(getattr(ls_frames, name))["compression"]
        assert {"zstd", "snappy"} <= set(typing.get_args(hint)), name


def test_renamed_arguments_still_work_with_a_warning(tmp_path: Path) -> None:
    out = ls_frames.to_parquet(b"[]", tmp_path / "d", progress=False)
    with pytest.warns(DeprecationWarning, match="'out_dir' argument is deprecated; use 'path'"):
        old = ls_frames.read_parquet(out_dir=out)  # type: ignore[call-arg]
    assert old.tasks.columns.tolist() == ls_frames.read_parquet(out).tasks.columns.tolist()
    with pytest.raises(TypeError, match="both"):
        ls_frames.read_parquet(out, out_dir=out)  # type: ignore[call-arg]
    with pytest.warns(DeprecationWarning, match="use 'http_timeout'"):
        client = ls_frames.Client("http://127.0.0.1:9", "k" * 40, timeout=3.0)  # type: ignore[call-arg]
    with client:
        assert client._client.timeout.read == 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ls_frames.Client("http://127.0.0.1:9", "k" * 40, http_timeout=3.0).close()


def test_every_error_is_importable_and_derives_from_lsframeserror() -> None:
    classes = [getattr(errors, n) for n in errors.__all__ if inspect.isclass(getattr(errors, n))]
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, ls_frames.LSFramesError), cls
        assert getattr(ls_frames, cls.__name__) is cls
    assert issubclass(ls_frames.OutputExistsError, FileExistsError)
    assert issubclass(ls_frames.ConfigurationError, ValueError)
    assert str(ls_frames.OutputExistsError("data/x")).startswith("data/x exists")


def test_an_unknown_storage_option_is_a_configuration_error() -> None:
    from ls_frames.exports.storage import storage_payload

    with pytest.raises(ls_frames.ConfigurationError, match="unknown storage option"):
        storage_payload(path="/x", no_such_option=1)


def test_the_secret_registry_is_bounded() -> None:
    from ls_frames.transport import secrets

    before = dict(secrets._SECRETS)
    try:
        for i in range(secrets._MAX_SECRETS * 3):  # months of five-minute refreshes
            secrets.register_secret(f"access-token-{i:06d}")
        assert len(secrets._SECRETS) == secrets._MAX_SECRETS
        newest = f"access-token-{secrets._MAX_SECRETS * 3 - 1:06d}"
        oldest_kept = f"access-token-{secrets._MAX_SECRETS * 2:06d}"
        assert secrets.redact(f"x {newest} {oldest_kept} y").count(newest) == 0
        assert oldest_kept not in secrets.redact(f"x {oldest_kept} y")
        assert "access-token-000000" not in secrets._SECRETS  # the oldest went first
        secrets.register_secret(oldest_kept)  # registered again: the most recent now
        assert next(reversed(secrets._SECRETS)) == oldest_kept
    finally:
        secrets._SECRETS.clear()
        secrets._SECRETS.update(before)


def test_cli_read_offers_no_server_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["read", "x.json", "--out", "y", "--url", "http://h"])
    assert exit_.value.code == 2
    assert "--url" in capsys.readouterr().err


def test_cli_refuses_an_existing_folder_before_any_server_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # no server and no key at all: the folder check must come first
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    out = tmp_path / "exists"
    out.mkdir()
    assert cli.main(["export", "12", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OutputExistsError" in err and "--overwrite" in err
    with pytest.raises(ls_frames.OutputExistsError):
        ls_frames.export_project(12, out)  # the function too, before a client is made
    source = tmp_path / "e.json"
    source.write_text("[]")
    assert cli.main(["read", str(source), "--out", str(out)]) == 1
    assert "OutputExistsError" in capsys.readouterr().err


def test_snapshot_project_closes_the_client_it_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    from ls_frames.pipeline import project as pipeline
    from tests.fake_label_studio import LEGACY, FakeLabelStudio

    fake = FakeLabelStudio()
    made: list[ls_frames.Client] = []

    class FromEnvironment(ls_frames.Client):
        def __init__(self) -> None:
            super().__init__("https://ls.test", LEGACY, transport=httpx.MockTransport(fake))
            made.append(self)

    monkeypatch.setattr(pipeline, "Client", FromEnvironment)
    with pytest.raises(ls_frames.NotFound):
        ls_frames.snapshot_project(10**6, export_id=1, progress=False)
    assert len(made) == 1 and made[0]._client.is_closed


def test_the_demo_raises_a_typed_error_for_a_server_without_projects(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ls_frames.testing import demo

    closed: list[bool] = []

    class Empty(ls_frames.Client):
        def list_projects(self) -> list[dict[str, Any]]:
            return []

        def close(self) -> None:
            closed.append(True)
            super().close()

    monkeypatch.setattr(demo, "Client", Empty)
    with pytest.raises(ls_frames.NoProjectError, match="no project to export"):
        demo.run_demo("out", url="http://127.0.0.1:9", api_key="k" * 40)
    assert closed == [True]
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "k" * 40)
    assert cli.main(["demo", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NoProjectError" in err


def test_bad_arguments_are_configuration_errors_that_stay_value_errors() -> None:
    from ls_frames.geometry.overlap import box_iou

    with pytest.raises(ls_frames.ConfigurationError, match="unknown tables"):
        ls_frames.read_export(b"[]", tables=["nope"])
    with pytest.raises(ValueError, match="shape"):  # the built-in base is kept
        box_iou([[1, 2, 3]], [[1, 2, 3, 4]])


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["sync", "12", "--out", "ds", "--overlap", "-1"], "--overlap must be 0 or more"),
        (["media", "12", "--out", "cache", "--workers", "0"], "--workers must be at least 1"),
        (["sync", "12", "--out", "file.txt"], "is a file, not a dataset folder"),
        (["sync", "12", "--delta", "t", "--storage-option", "nope"], "takes KEY=VALUE"),
        (["sync", "12", "--out", "ds", "--storage-option", "A=b"], "works with --delta"),
        (["sync", "12", "--delta", "t", "--media", "m"], "--media works with --out"),
        (
            ["sync", "12", "--delta", "s3://b/p", "--storage-option", "AWS_ENDPOIN_URL=x"],
            "AWS_ENDPOINT_URL",
        ),
        (["sync", "12", "--out", "/proc/nope/ds"], "cannot write --out"),
        (["sync", "12", "--out", "ds", "--timeout", "-1"], "--timeout must"),
        (["export", "12", "--out", "ds", "--keep-json", "/proc/nope/"], "cannot write --keep-json"),
        (["export", "12", "--out", "ds", "--export-id", "0"], "--export-id must"),
        (["download", "12", "--out", "/proc/nope/"], "cannot write --out"),
        (["media", "12", "--out", "/proc/nope"], "cannot write --out"),
    ],
)
def test_cli_checks_options_before_any_server_work(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)  # no server: a request would fail
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)  # with another message
    (tmp_path / "file.txt").write_text("x")
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ConfigurationError" in err and expected in err


def test_cli_refuses_an_unwritable_cache_before_any_server_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert cli.main(["export", "12", "--out", str(tmp_path / "ds"), "--media", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a folder" in err


TITLE = "Street detection"  # project 12 of the fake server's list

#: every entry point that names a project, called with a title
BY_TITLE: dict[str, Any] = {
    "load_project": lambda c, t: ls_frames.load_project(TITLE, client=c, progress=False),
    "export_project": lambda c, t: ls_frames.export_project(
        TITLE, t / "ds", client=c, progress=False
    ),
    "snapshot_project": lambda c, t: ls_frames.snapshot_project(TITLE, client=c, progress=False),
    "download_project": lambda c, t: ls_frames.download_project(
        TITLE, t / "out/", client=c, progress=False
    ),
    "sync_parquet": lambda c, t: ls_frames.sync_parquet(TITLE, t / "ds", client=c, progress=False),
    "sync_delta": lambda c, t: ls_frames.sync_delta(TITLE, t / "delta", client=c, progress=False),
}


def test_every_project_function_is_called_with_a_title() -> None:
    assert set(PROJECT_FUNCTIONS) <= set(BY_TITLE)
    for name in BY_TITLE:
        hint = typing.get_type_hints(getattr(ls_frames, name))["project"]
        assert str in typing.get_args(hint), name


@pytest.mark.parametrize("name", sorted(BY_TITLE))
def test_a_title_works_wherever_a_project_is_named(name: str, tmp_path: Path) -> None:
    from tests.fake_label_studio import FakeLabelStudio, client_for

    fake = FakeLabelStudio()
    fake.put_task(1, annotations=1)
    with client_for(fake) as client:
        BY_TITLE[name](client, tmp_path)
    paths = [r.url.path for r in fake.requests]
    assert "/api/projects/" in paths  # the title was looked up ...
    assert "/api/projects/12/exports/" in paths  # ... and project 12 exported
    fake.project_titles = {1: "Other"}
    unknown = pytest.raises(ls_frames.ConfigurationError, match="no project titled")
    with client_for(fake) as client, unknown:
        BY_TITLE[name](client, tmp_path / "again")


def test_the_panel_takes_a_title() -> None:
    from tests.fake_label_studio import FakeLabelStudio, client_for

    fake = FakeLabelStudio()
    with client_for(fake) as client:
        panel = ls_frames.ExportPanel(TITLE, client=client, background=False)
        assert panel.error is None and panel.project_picker.value == 12
        panel.close()


def test_the_cli_takes_a_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ls_frames.frontends.cli import commands
    from tests.fake_label_studio import LEGACY, FakeLabelStudio

    fake = FakeLabelStudio()
    fake.put_task(1, annotations=1)

    class Faked(ls_frames.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__("https://ls.test", LEGACY, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(commands, "Client", Faked)
    assert cli.main(["export", TITLE, "--out", str(tmp_path / "ds"), "-q"]) == 0
    assert "/api/projects/12/exports/" in [r.url.path for r in fake.requests]
    assert "tasks" in capsys.readouterr().out
