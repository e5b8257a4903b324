"""Seed a Label Studio with a demo project whose expected export counts are known.

Plain ``httpx`` only, so it works without the library's client. ``api_key`` is a legacy
token (sent as ``Token``) or a personal access token (a JWT, exchanged once at
``/api/token/refresh/`` and sent as ``Bearer``); or pass ready ``headers``.

:func:`seed_demo_project` builds every shape the flattener must handle: rectangles with a
per-region choice sharing the box's id, a task-level choice, a text area, relations, a
skipped annotation, a ground-truth annotation, predictions with ``model_version`` and
``score``, drafts, a task with no annotation. Each task's ``image`` is a real PNG uploaded
to the project (``/data/upload/...``), so the media can be fetched too. It returns what it
sent, counted.
:func:`seed_many_tasks` imports many such tasks in batches, for benchmarks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ls_frames.testing.images import demo_image
from ls_frames.testing.media import upload_files

__all__ = [
    "DEMO_LABEL_CONFIG",
    "auth_headers",
    "demo_image_name",
    "demo_tasks",
    "seed_demo_project",
    "seed_many_tasks",
]

DEMO_LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="cat"/><Label value="dog"/><Label value="bird"/>
  </RectangleLabels>
  <Choices name="pose" toName="image" perRegion="true">
    <Choice value="standing"/><Choice value="sitting"/>
  </Choices>
  <Choices name="scene" toName="image" choice="single">
    <Choice value="indoor"/><Choice value="outdoor"/>
  </Choices>
  <TextArea name="caption" toName="image"/>
  <Relations>
    <Relation value="chases"/><Relation value="near"/>
  </Relations>
</View>"""

_WIDTH, _HEIGHT = 640, 480
_LABELS = ("cat", "dog", "bird")
_TIMEOUT = httpx.Timeout(30.0, read=600.0)


def auth_headers(
    url: str, api_key: str, *, transport: httpx.BaseTransport | None = None
) -> dict[str, str]:
    """``Authorization`` header for ``api_key``: ``Token`` for a legacy key, else ``Bearer``."""
    if api_key.count(".") != 2:
        return {"Authorization": f"Token {api_key}"}
    with httpx.Client(base_url=url, timeout=_TIMEOUT, transport=transport) as http:
        answer = http.post("/api/token/refresh/", json={"refresh": api_key})
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access']}"}


def _box(rid: str, label: str, k: int) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": _WIDTH,
        "original_height": _HEIGHT,
        "image_rotation": 0,
        "value": {
            "x": 5.0 + 10 * k,
            "y": 10.0 + 5 * k,
            "width": 20.0,
            "height": 25.5,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def _pose(box: dict[str, Any], pose: str) -> dict[str, Any]:
    """A per-region choice: same id and geometry as its box."""
    geometry = {k: v for k, v in box["value"].items() if k != "rectanglelabels"}
    return {
        "id": box["id"],
        "from_name": "pose",
        "to_name": "image",
        "type": "choices",
        "original_width": _WIDTH,
        "original_height": _HEIGHT,
        "image_rotation": 0,
        "value": {**geometry, "choices": [pose]},
    }


def _scene(rid: str, scene: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "scene",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": [scene]},
    }


def _caption(rid: str, text: str) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": "caption",
        "to_name": "image",
        "type": "textarea",
        "value": {"text": [text]},
    }


def _relation(a: str, b: str, label: str) -> dict[str, Any]:
    return {"type": "relation", "from_id": a, "to_id": b, "direction": "right", "labels": [label]}


def _full_result(tag: str, i: int) -> list[dict[str, Any]]:
    """Two boxes, a pose on the first, a scene, a caption and a relation."""
    b1 = _box(f"{tag}b1", _LABELS[i % 3], 0)
    b2 = _box(f"{tag}b2", _LABELS[(i + 1) % 3], 1)
    return [
        b1,
        b2,
        _pose(b1, "standing" if i % 2 else "sitting"),
        _scene(f"{tag}sc", "indoor" if i % 2 else "outdoor"),
        _caption(f"{tag}tx", f"task {i}: a {_LABELS[i % 3]} and a {_LABELS[(i + 1) % 3]}"),
        _relation(b1["id"], b2["id"], "chases" if i % 2 else "near"),
    ]


def _annotation(result: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    # Imported annotations default to ground_truth=True: always say it.
    return {
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "lead_time": 12.5,
        **flags,
    }


def _prediction(tag: str, i: int) -> dict[str, Any]:
    box = _box(f"{tag}p1", _LABELS[i % 3], 2)
    box["score"] = 0.75
    return {
        "model_version": f"demo-model-v{1 + i % 2}",
        "score": round(0.5 + (i % 5) / 10, 2),
        "result": [box, _scene(f"{tag}psc", "indoor")],
    }


def demo_image_name(i: int) -> str:
    """The file name of demo task ``i``'s image (see :func:`demo_image`)."""
    return f"demo-{i}.png"


def demo_tasks(n_tasks: int, images: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The tasks :func:`seed_demo_project` imports (``n_tasks >= 5``).

    Task 0: two annotations, one of them from a second pass; task 1: a skipped annotation
    only; task 2: a ground-truth annotation; the last task: nothing (it gets a draft);
    every other task one full annotation. Every even task has a prediction. ``images``
    holds each task's image reference (default: the bare file name ``demo-<i>.png``).
    """
    if n_tasks < 5:
        raise ValueError("the demo project needs at least 5 tasks")
    if images is not None and len(images) != n_tasks:
        raise ValueError(f"{len(images)} image references for {n_tasks} tasks")
    tasks: list[dict[str, Any]] = []
    for i in range(n_tasks):
        tag = f"t{i}"
        image = images[i] if images is not None else demo_image_name(i)
        task: dict[str, Any] = {"data": {"image": image, "index": i, "source": "ls_frames demo"}}
        if i == 0:
            task["annotations"] = [
                _annotation(_full_result(tag, i)),
                _annotation(_full_result(f"{tag}a2", i + 1)),
            ]
        elif i == 1:
            task["annotations"] = [_annotation([], was_cancelled=True)]
        elif i == 2:
            task["annotations"] = [_annotation(_full_result(tag, i), ground_truth=True)]
        elif i < n_tasks - 1:
            task["annotations"] = [_annotation(_full_result(tag, i))]
        if i % 2 == 0:
            task["predictions"] = [_prediction(tag, i)]
        tasks.append(task)
    return tasks


def _count(tasks: list[dict[str, Any]], drafts: list[dict[str, Any]]) -> dict[str, int]:
    anns = [a for t in tasks for a in t.get("annotations", [])]
    preds = [p for t in tasks for p in t.get("predictions", [])]
    items = [r for a in anns for r in a["result"]]
    return {
        "tasks": len(tasks),
        "tasks_with_annotations": sum(1 for t in tasks if t.get("annotations")),
        "annotations": len(anns),
        "skipped_annotations": sum(1 for a in anns if a["was_cancelled"]),
        "ground_truth_annotations": sum(1 for a in anns if a["ground_truth"]),
        "predictions": len(preds),
        "drafts": len(drafts),
        "result_items": len(items),
        "relations": sum(1 for r in items if r.get("type") == "relation"),
        "regions": len({(id(a), r["id"]) for a in anns for r in a["result"] if "id" in r}),
        "prediction_result_items": sum(len(p["result"]) for p in preds),
        "draft_result_items": sum(len(d["result"]) for d in drafts),
    }


def _headers(
    url: str,
    api_key: str | None,
    headers: Mapping[str, str] | None,
    transport: httpx.BaseTransport | None,
) -> dict[str, str]:
    if headers is not None:
        return dict(headers)
    if not api_key:
        raise ValueError("pass api_key or headers")
    return auth_headers(url, api_key, transport=transport)


def _post(http: httpx.Client, path: str, body: Any) -> Any:
    answer = http.post(path, json=body)
    if answer.status_code >= 400:
        raise RuntimeError(f"POST {path} -> {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def seed_demo_project(
    url: str,
    api_key: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    n_tasks: int = 12,
    title: str = "ls_frames demo",
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Create the demo project and return its ids and the counts of what was sent.

    Returns ``{"project_id", "title", "label_config", "task_ids" (sorted, in import
    order), "draft_ids", "draft_task_ids", "counts": {tasks, tasks_with_annotations,
    annotations (skipped included), skipped_annotations, ground_truth_annotations,
    predictions, drafts, result_items (annotation results, relations included), relations,
    regions, prediction_result_items, draft_result_items}, "media": [{task_id, uri, bytes,
    sha256}] (one uploaded PNG a task, in task order)}``.
    """
    files = {demo_image_name(i): demo_image(i) for i in range(n_tasks)}
    auth = _headers(url, api_key, headers, transport)
    with httpx.Client(base_url=url, headers=auth, timeout=_TIMEOUT, transport=transport) as http:
        project = _post(http, "/api/projects", {"title": title, "label_config": DEMO_LABEL_CONFIG})
        pid = int(project["id"])
        refs = upload_files(http, pid, files)
        images = [refs[demo_image_name(i)] for i in range(n_tasks)]
        tasks = demo_tasks(n_tasks, images)
        answer = _post(http, f"/api/projects/{pid}/import?return_task_ids=true", tasks)
        task_ids = sorted(int(t) for t in answer["task_ids"])
        drafts = [
            (task_ids[-1], {"result": _full_result("d1", 1)[:2], "lead_time": 3.5}),
            (task_ids[0], {"result": [_scene("d2sc", "outdoor")], "lead_time": 1.0}),
        ]
        draft_ids = [
            int(_post(http, f"/api/tasks/{tid}/drafts", body)["id"]) for tid, body in drafts
        ]
    return {
        "project_id": pid,
        "title": title,
        "label_config": DEMO_LABEL_CONFIG,
        "task_ids": task_ids,
        "draft_ids": draft_ids,
        "draft_task_ids": [tid for tid, _ in drafts],
        "counts": _count(tasks, [body for _, body in drafts]),
        "media": [
            {
                "task_id": tid,
                "uri": uri,
                "bytes": len(files[demo_image_name(i)]),
                "sha256": hashlib.sha256(files[demo_image_name(i)]).hexdigest(),
            }
            for i, (tid, uri) in enumerate(zip(task_ids, images, strict=True))
        ],
    }


def seed_many_tasks(
    url: str,
    api_key: str | None,
    project_id: int | None,
    n: int,
    *,
    batch: int = 1000,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Import ``n`` tasks, each with one full annotation and one prediction, in batches.

    ``project_id=None`` creates a project with the demo config. Returns ``{"project_id",
    "tasks", "annotations", "predictions", "result_items"}`` for what was sent.
    """
    auth = _headers(url, api_key, headers, transport)
    sent = {"tasks": 0, "annotations": 0, "predictions": 0, "result_items": 0}
    with httpx.Client(base_url=url, headers=auth, timeout=_TIMEOUT, transport=transport) as http:
        if project_id is None:
            body = {"title": f"ls_frames bench {n}", "label_config": DEMO_LABEL_CONFIG}
            project_id = int(_post(http, "/api/projects", body)["id"])
        for start in range(0, n, batch):
            chunk = []
            for i in range(start, min(n, start + batch)):
                result = _full_result(f"m{i}", i)
                chunk.append(
                    {
                        "data": {"image": f"/static/images/bench-{i}.jpg", "index": i},
                        "annotations": [_annotation(result)],
                        "predictions": [_prediction(f"m{i}", i)],
                    }
                )
                sent["result_items"] += len(result)
            _post(http, f"/api/projects/{project_id}/import", chunk)
            sent["tasks"] += len(chunk)
            sent["annotations"] += len(chunk)
            sent["predictions"] += len(chunk)
    return {"project_id": project_id, **sent}
