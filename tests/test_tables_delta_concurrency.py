"""Two runs from the same Delta dataset state: one commits, the other raises
ConcurrentWriteError and leaves nothing a reader sees."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest

import ls_frames
from ls_frames.errors import ConcurrentWriteError
from tests.delta_helpers import LABEL_CONFIG, assert_same_frames, need_deltalake, tasks, write

need_deltalake()

from deltalake import DeltaTable  # noqa: E402

from ls_frames.tables.delta import delta_state, read_delta, write_delta  # noqa: E402

PROVENANCE = {"label_config": LABEL_CONFIG}


def edited(base: list[dict[str, Any]], task: int, split: str) -> list[dict[str, Any]]:
    doc = [copy.deepcopy(t) for t in base if t["id"] == task]
    doc[0]["data"]["split"] = split
    doc[0]["annotations"] = doc[0]["annotations"][:1]
    return doc


def setup(tmp: Path) -> tuple[Path, Any, Path, Path]:
    base = tasks()
    uri = tmp / "ds"
    state = write_delta(
        uri,
        write(tmp, "full", base),
        provenance=PROVENANCE,
        full=True,
        expected=None,
        tasks_per_file=2,
    ).state
    return (
        uri,
        state,
        write(tmp, "a", edited(base, 20011, "A")),
        write(tmp, "b", edited(base, 20013, "B")),
    )


def versions(uri: Path, names: Any) -> dict[str, int]:
    return {n: int(DeltaTable(uri / n).version()) for n in names}


def test_the_second_run_from_the_same_state_raises_and_commits_nothing(tmp_path: Path) -> None:
    uri, state, part_a, part_b = setup(tmp_path)
    won = write_delta(uri, part_a, provenance=PROVENANCE, full=False, expected=state)
    after_a = versions(uri, state.versions)
    with pytest.raises(ConcurrentWriteError, match="tasks table is at version 1") as caught:
        write_delta(uri, part_b, provenance=PROVENANCE, full=False, expected=state)
    assert (caught.value.table, caught.value.expected, caught.value.found) == ("tasks", 0, 1)
    assert versions(uri, state.versions) == after_a  # not a single commit
    assert delta_state(uri) == won.state
    splits = read_delta(uri).tasks.set_index("task_id")["data.split"]
    assert splits[20011] == "A" and splits[20013] != "B"
    # a fresh state lets it through
    write_delta(uri, part_b, provenance=PROVENANCE, full=False, expected=delta_state(uri))
    assert read_delta(uri).tasks.set_index("task_id")["data.split"][20013] == "B"


def test_a_table_committed_first_by_another_run_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race inside one table: the other run's commit lands between this run's check of
    the tasks table and its own commit (the tasks check cannot see it yet)."""
    uri, state, part_a, _ = setup(tmp_path)
    from ls_frames.tables.delta import write as module
    from ls_frames.tables.delta.files import commit_files as real

    done = False

    def racing(run: Any, name: str, base: Any, *args: Any, **kw: Any) -> Any:
        nonlocal done
        if not done:
            done = True  # the other run commits this very table meanwhile
            other = DeltaTable(uri / name, version=base.version())
            real(run, name, other, *args, **kw)
        return real(run, name, base, *args, **kw)

    monkeypatch.setattr(module, "commit_files", racing)
    with pytest.raises(ConcurrentWriteError, match="annotations table is at version 1"):
        write_delta(uri, part_a, provenance=PROVENANCE, full=False, expected=state)
    monkeypatch.undo()
    assert delta_state(uri) == state  # no tasks commit: readers see the first version
    assert_same_frames(read_delta(uri), ls_frames.read_parquet(tmp_path / "full"))


def test_two_threads_from_one_state(tmp_path: Path) -> None:
    uri, state, part_a, part_b = setup(tmp_path)
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def run(label: str, part: Path) -> None:
        barrier.wait()
        try:
            outcome[label] = write_delta(
                uri, part, provenance=PROVENANCE, full=False, expected=state
            )
        except ConcurrentWriteError as exc:
            outcome[label] = exc

    threads = [threading.Thread(target=run, args=x) for x in (("A", part_a), ("B", part_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [k for k, v in outcome.items() if not isinstance(v, Exception)]
    assert len(winners) == 1, outcome
    final = delta_state(uri)
    assert final is not None and final == outcome[winners[0]].state and final.version == 1
    splits = read_delta(uri).tasks.set_index("task_id")["data.split"]
    assert (splits[20011] == "A") == (winners == ["A"])
    assert (splits[20013] == "B") == (winners == ["B"])
