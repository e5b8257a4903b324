"""``ls-frames import-predictions`` against the fake server: the file shapes, the summary,
the exit status when rows are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import ls_frames
from ls_frames.frontends import cli
from ls_frames.frontends.cli import commands
from tests.fake_label_studio import LEGACY
from tests.fake_writeback import FakeWriteback

BOX = {
    "id": "r1",
    "from_name": "box",
    "to_name": "image",
    "type": "rectanglelabels",
    "value": {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0, "rectanglelabels": ["cat"]},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeWriteback:
    server = FakeWriteback()
    for tid in (1, 2, 3):
        server.put_task(tid)

    class Faked(ls_frames.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__("https://ls.test", LEGACY, transport=httpx.MockTransport(server))

    monkeypatch.setattr(commands, "Client", Faked)
    return server


def _write(path: Path, tids: list[int]) -> Path:
    frame = pd.DataFrame({"task_id": tids, "result": [[BOX]] * len(tids), "score": 0.5})
    if path.suffix == ".csv":
        frame.assign(result=frame.result.map(json.dumps)).to_csv(path, index=False)
    elif path.suffix == ".parquet":  # items of different shapes: Arrow fills in nulls
        scene = {
            "from_name": "scene",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["in"]},
        }
        frame.assign(result=[[BOX, scene]] * len(tids)).to_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps({"task": t, "result": [BOX]}) for t in tids))
    else:
        path.write_text(frame.to_json(orient="records"))
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json", ".jsonl"])
def test_each_file_shape_imports(
    fake: FakeWriteback, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / f"preds{suffix}", [1, 2, 3])
    argv = ["import-predictions", str(path), "--project", "12", "--model-version", "v1", "-q"]
    assert cli.main(argv) == 0
    assert "3 created, 0 replaced, 0 refused" in capsys.readouterr().out
    assert fake.versions() == [(1, "v1"), (2, "v1"), (3, "v1")]
    stored = fake.tasks[1]["predictions"][0]
    assert stored["result"][0] == BOX
    if suffix == ".parquet":
        assert stored["result"][1]["value"] == {"choices": ["in"]}
    assert cli.main([*argv, "--replace"]) == 0
    assert "3 created, 3 replaced" in capsys.readouterr().out
    assert fake.versions() == [(1, "v1"), (2, "v1"), (3, "v1")]


def test_refused_rows_exit_4_after_the_rest(
    fake: FakeWriteback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "preds.parquet", [1, 7, 2])
    argv = ["import-predictions", str(path), "--project", "12", "--model-version", "v1", "-q"]
    assert cli.main(argv) == 4
    out = capsys.readouterr().out
    assert "2 created, 0 replaced, 1 refused (tasks not in the project: 7)" in out
    assert fake.versions() == [(1, "v1"), (2, "v1")]


def test_bad_file_is_one_line_and_status_1(
    fake: FakeWriteback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "preds.txt"
    bad.write_text("x")
    argv = ["import-predictions", str(bad), "--project", "12", "--model-version", "v1"]
    assert cli.main(argv) == 1
    assert "not a .parquet, .csv or .json file" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "import-predictions",
                str(tmp_path / "none.json"),
                "--project",
                "1",
                "--model-version",
                "v",
            ]
        )
        == 1
    )
    assert fake.requests == []
    with pytest.raises(SystemExit):
        cli.main(["import-predictions", str(bad), "--project", "12"])  # no --model-version
