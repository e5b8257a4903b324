"""The fake Label Studio with the writing routes: bulk predictions, the prediction list,
deleting one prediction or a model version (shapes as Label Studio 1.23.2 answers)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.fake_label_studio import FakeLabelStudio


class FakeWriteback(FakeLabelStudio):
    """Predictions live in ``tasks[tid]["predictions"]``; ``fail_import_at`` makes the
    n-th bulk import request (1-based) answer 500 without writing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the controls the write-back tests' predictions use (checked before any write)
        self.label_config = (
            '<View><Image name="image" value="$image"/>'
            '<RectangleLabels name="box" toName="image">'
            '<Label value="cat"/><Label value="dog"/></RectangleLabels>'
            '<Choices name="c" toName="image"><Choice value="a"/></Choices>'
            '<Choices name="scene" toName="image"><Choice value="in"/><Choice value="indoor"/>'
            '<Choice value="outdoor"/></Choices></View>'
        )
        self.next_prediction = 10_000
        self.import_calls = 0
        self.fail_import_at: int | None = None

    def _matches(self, task: dict[str, Any], filters: dict[str, Any]) -> bool:
        """Task-id filters as the review tabs and the id check write them: single ids
        (``equal``) and ranges, joined with ``or``."""
        items = filters.get("items", [])
        if filters.get("conjunction") != "or" or not items:
            return super()._matches(task, filters)
        for item in items:
            value = item["value"]
            if item["operator"] == "equal" and task["id"] == value:
                return True
            if item["operator"] == "in" and value["min"] <= task["id"] <= value["max"]:
                return True
        return False

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        m = re.fullmatch(r"/api/projects/(\d+)/import", path)
        if m and request.method == "POST":
            created = []
            for item in json.loads(request.content):
                tid = 1 + max([*self.tasks, 0])
                self.put_task(tid)["data"] = item["data"]
                self.tasks[tid]["sent"] = item
                created.append(tid)
            return httpx.Response(201, json={"task_count": len(created), "task_ids": created})
        m = re.fullmatch(r"/api/projects/(\d+)/import/predictions", path)
        if m and request.method == "POST":
            return self._import(json.loads(request.content))
        if path == "/api/predictions/" and request.method == "GET":
            listed = [
                {**p, "task": t["id"], "project": int(request.url.params["project"])}
                for _, t in sorted(self.tasks.items())
                for p in t["predictions"]
            ]
            return httpx.Response(200, json=listed)
        m = re.fullmatch(r"/api/predictions/(\d+)/", path)
        if m and request.method == "DELETE":
            for t in self.tasks.values():
                t["predictions"] = [p for p in t["predictions"] if p["id"] != int(m.group(1))]
            return httpx.Response(204)
        m = re.fullmatch(r"/api/projects/(\d+)/model-versions/", path)
        if m and request.method == "GET":
            counts: dict[str, int] = {}
            for t in self.tasks.values():
                for p in t["predictions"]:
                    counts[p["model_version"]] = counts.get(p["model_version"], 0) + 1
            return httpx.Response(200, json=counts)
        if m and request.method == "DELETE":
            version = json.loads(request.content)["model_version"]
            count = 0
            for t in self.tasks.values():
                keep = [p for p in t["predictions"] if p["model_version"] != version]
                count += len(t["predictions"]) - len(keep)
                t["predictions"] = keep
            return httpx.Response(200, json={"deleted_predictions": count})
        return super()._route(request, path)

    def _import(self, items: list[dict[str, Any]]) -> httpx.Response:
        self.import_calls += 1
        if self.import_calls == self.fail_import_at:
            return httpx.Response(500, json={"detail": "database is locked"})
        for item in items:
            if item["task"] not in self.tasks:
                return httpx.Response(400, json={"detail": f"task ID {item['task']} not found"})
        for item in items:
            self.next_prediction += 1
            self.tasks[item["task"]]["predictions"].append(
                {
                    "id": self.next_prediction,
                    "result": item["result"],
                    "score": item.get("score"),
                    "model_version": item.get("model_version", "undefined"),
                }
            )
        return httpx.Response(201, json={"created": len(items)})

    def versions(self) -> list[tuple[int, str]]:
        """(task, model version) of every prediction, sorted."""
        return sorted(
            (t["id"], p["model_version"]) for t in self.tasks.values() for p in t["predictions"]
        )
