"""Real-server exports of many label configs, flattened losslessly in both export shapes.

One project per config (image, text, audio, video, taxonomy, ranker, brush), each with
annotations, a skipped and a ground-truth annotation, and predictions whose result items
are built here the way the official frontend writes them. Each project is exported once
with full objects and once ids-only; every expectation is derived from what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

import ls_frames
from ls_frames.geometry.shapes import to_coco
from ls_frames.transport.auth import TokenAuth

pytestmark = [pytest.mark.server, pytest.mark.compat]

_TIMEOUT = httpx.Timeout(30.0, read=300.0)
FULL = ls_frames.Serialization()
IDS = ls_frames.Serialization(predictions="id", drafts="id", annotators="id")
SHAPES = {"full": FULL, "ids": IDS}


def _item(
    rid: str, from_name: str, to_name: str, typ: str, value: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "id": rid,
        "from_name": from_name,
        "to_name": to_name,
        "type": typ,
        "value": value,
        **extra,
    }


# ---------------------------------------------------------------- configs and results

IMAGE = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="zebra"/><Label value="cat"/><Label value="ant"/>
  </RectangleLabels>
  <PolygonLabels name="poly" toName="image"><Label value="lake"/></PolygonLabels>
  <KeyPointLabels name="kp" toName="image"><Label value="eye"/></KeyPointLabels>
  <Choices name="pose" toName="image" perRegion="true">
    <Choice value="up"/><Choice value="down"/>
  </Choices>
  <Choices name="scene" toName="image"><Choice value="outdoor"/><Choice value="indoor"/></Choices>
  <Rating name="quality" toName="image"/>
  <Number name="count" toName="image"/>
  <TextArea name="caption" toName="image"/>
  <DateTime name="taken" toName="image" showDate="true" showTime="true"/>
  <Relations><Relation value="near"/><Relation value="on"/></Relations>
</View>"""

_IMG = {"original_width": 800, "original_height": 600, "image_rotation": 0}


def _image_result(k: int, label: str) -> list[dict[str, Any]]:
    geo = {"x": 10.0 + k, "y": 20.5, "width": 30.25, "height": 15.0, "rotation": 0}
    geo2 = {"x": 50.0, "y": 40.0 + k, "width": 10.0, "height": 12.5, "rotation": 15.0}
    return [
        _item(
            f"b{k}a", "box", "image", "rectanglelabels", {**geo, "rectanglelabels": [label]}, **_IMG
        ),
        _item(f"b{k}a", "pose", "image", "choices", {**geo, "choices": ["up"]}, **_IMG),
        _item(
            f"b{k}b",
            "box",
            "image",
            "rectanglelabels",
            {**geo2, "rectanglelabels": ["ant"]},
            **_IMG,
        ),
        _item(
            f"p{k}",
            "poly",
            "image",
            "polygonlabels",
            {
                "points": [[1.5, 2.0], [30.0, 4.25], [12.0, 40.0]],
                "closed": True,
                "polygonlabels": ["lake"],
            },
            **_IMG,
        ),
        _item(
            f"k{k}",
            "kp",
            "image",
            "keypointlabels",
            {"x": 33.3, "y": 44.4, "width": 0.5, "keypointlabels": ["eye"]},
            **_IMG,
        ),
        _item(f"s{k}", "scene", "image", "choices", {"choices": ["indoor", "outdoor"]}),
        _item(f"q{k}", "quality", "image", "rating", {"rating": 3 + k % 3}),
        _item(f"n{k}", "count", "image", "number", {"number": 7.5 + k}),
        _item(f"c{k}", "caption", "image", "textarea", {"text": [f"line {k}", "second"]}),
        _item(f"d{k}", "taken", "image", "datetime", {"datetime": "2024-05-06T07:08"}),
        {
            "from_id": f"b{k}a",
            "to_id": f"b{k}b",
            "type": "relation",
            "direction": "right",
            "labels": ["near"],
        },
        {
            "from_id": f"b{k}b",
            "to_id": f"p{k}",
            "type": "relation",
            "direction": "bi",
            "labels": [],
        },
    ]


TEXT = """<View>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels>
  <Text name="text" value="$text"/>
</View>"""
_SENTENCE = "Ada Lovelace met Charles Babbage in London."


def _text_result(k: int, label: str) -> list[dict[str, Any]]:
    spans = [(0, 12, label), (17, 32, "PER"), (36, 42, "LOC")]
    return [
        _item(
            f"t{k}{i}",
            "ner",
            "text",
            "labels",
            {"start": s, "end": e, "text": _SENTENCE[s:e], "labels": [lab]},
        )
        for i, (s, e, lab) in enumerate(spans)
    ]


AUDIO = """<View>
  <Labels name="speaker" toName="audio"><Label value="alice"/><Label value="bob"/></Labels>
  <Audio name="audio" value="$audio"/>
  <Choices name="noisy" toName="audio" perRegion="true"><Choice value="yes"/></Choices>
</View>"""


def _audio_result(k: int, label: str) -> list[dict[str, Any]]:
    return [
        _item(
            f"a{k}",
            "speaker",
            "audio",
            "labels",
            {"start": 0.5 + k, "end": 2.75 + k, "channel": 0, "labels": [label]},
        ),
        _item(
            f"a{k}",
            "noisy",
            "audio",
            "choices",
            {"start": 0.5 + k, "end": 2.75 + k, "channel": 0, "choices": ["yes"]},
        ),
        _item(
            f"a{k}x",
            "speaker",
            "audio",
            "labels",
            {"start": 4.0, "end": 5.125, "channel": 1, "labels": ["bob"]},
        ),
    ]


VIDEO = """<View>
  <Labels name="videoLabels" toName="video"><Label value="car"/><Label value="bus"/></Labels>
  <Video name="video" value="$video" framerate="25"/>
  <VideoRectangle name="box" toName="video"/>
</View>"""


def _video_result(k: int, label: str) -> list[dict[str, Any]]:
    seq = [
        {
            "frame": 1,
            "enabled": True,
            "rotation": 0,
            "x": 10.0,
            "y": 10.0,
            "width": 20.0,
            "height": 20.0,
            "time": 0.04,
        },
        {
            "frame": 5,
            "enabled": False,
            "rotation": 0,
            "x": 18.0 + k,
            "y": 14.0,
            "width": 20.0,
            "height": 20.0,
            "time": 0.2,
        },
    ]
    return [
        _item(
            f"v{k}",
            "box",
            "video",
            "videorectangle",
            {"framesCount": 100, "duration": 4.0, "sequence": seq, "labels": [label]},
        )
    ]


TAXONOMY = """<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="topic" toName="text">
    <Choice value="Science"><Choice value="Physics"/><Choice value="Biology"/></Choice>
    <Choice value="Arts"/>
  </Taxonomy>
</View>"""


def _taxonomy_result(k: int, label: str) -> list[dict[str, Any]]:
    paths = [["Science", "Physics"], ["Arts"]] if k % 2 else [["Science", "Biology"]]
    return [_item(f"x{k}", "topic", "text", "taxonomy", {"taxonomy": paths})]


RANKER = """<View>
  <List name="results" value="$items" title="Results"/>
  <Ranker name="rank" toName="results">
    <Bucket name="relevant" title="Relevant"/><Bucket name="junk" title="Junk"/>
  </Ranker>
</View>"""


def _ranker_result(k: int, label: str) -> list[dict[str, Any]]:
    order = ["i1", "i2", "i3"] if k % 2 else ["i3", "i1"]
    return [
        _item(f"r{k}", "rank", "results", "ranker", {"ranker": {"relevant": order, "junk": ["i4"]}})
    ]


BRUSH = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="mask" toName="image"><Label value="sky"/><Label value="road"/></BrushLabels>
</View>"""


def _brush_result(k: int, label: str) -> list[dict[str, Any]]:
    return [
        _item(
            f"m{k}",
            "mask",
            "image",
            "brushlabels",
            {"format": "rle", "rle": [0, 3, 7, 1, 255, 9 + k, 0, 0], "brushlabels": [label]},
            **_IMG,
        )
    ]


CASES: dict[str, tuple[str, Any, dict[str, Any], tuple[str, str]]] = {
    # name: (config, result builder, task data, (annotation label, prediction label))
    "image": (IMAGE, _image_result, {"image": "/static/x.jpg"}, ("zebra", "cat")),
    "text": (TEXT, _text_result, {"text": _SENTENCE}, ("PER", "ORG")),
    "audio": (AUDIO, _audio_result, {"audio": "/static/a.wav"}, ("alice", "bob")),
    "video": (VIDEO, _video_result, {"video": "/static/v.mp4"}, ("car", "bus")),
    "taxonomy": (TAXONOMY, _taxonomy_result, {"text": "t"}, ("", "")),
    "ranker": (
        RANKER,
        _ranker_result,
        {"items": [{"id": f"i{i}", "title": f"item {i}"} for i in range(1, 5)]},
        ("", ""),
    ),
    "brush": (BRUSH, _brush_result, {"image": "/static/x.jpg"}, ("sky", "road")),
}


def _tasks(builder: Any, data: dict[str, Any], labels: tuple[str, str]) -> list[dict[str, Any]]:
    """Task 0: two annotations and a prediction; 1: a skipped annotation; 2: a ground-truth
    annotation and two predictions; 3: nothing."""
    ann, pred = labels

    def annotation(result: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
        return {"result": result, "was_cancelled": False, "ground_truth": False, **flags}

    return [
        {
            "data": data,
            "annotations": [annotation(builder(0, ann)), annotation(builder(1, pred))],
            "predictions": [{"model_version": "m1", "score": 0.9, "result": builder(0, pred)}],
        },
        {"data": data, "annotations": [annotation([], was_cancelled=True)]},
        {
            "data": data,
            "annotations": [annotation(builder(2, ann), ground_truth=True)],
            "predictions": [
                {"model_version": "m1", "score": 0.25, "result": builder(3, ann)},
                {"model_version": "m2", "result": builder(4, pred)},
            ],
        },
        {"data": data},
    ]


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def http(label_studio: Any) -> Iterator[httpx.Client]:
    # TokenAuth refreshes a personal access token's 5-minute access token (1.17 has no
    # legacy token for a fixed header)
    auth = TokenAuth(label_studio.admin_key, f"{label_studio.url}/api/token/refresh/")
    with httpx.Client(base_url=label_studio.url, auth=auth, timeout=_TIMEOUT) as client:
        yield client


def _post(http: httpx.Client, path: str, body: Any) -> Any:
    answer = http.post(path, json=body)
    assert answer.status_code < 400, f"POST {path} -> {answer.status_code}: {answer.text[:400]}"
    return answer.json()


def _create(
    http: httpx.Client, name: str, config: str, tasks: list[dict[str, Any]]
) -> dict[str, Any]:
    pid = int(
        _post(http, "/api/projects", {"title": f"ls_frames {name}", "label_config": config})["id"]
    )
    task_ids: list[int] = []
    if tasks:
        answer = _post(http, f"/api/projects/{pid}/import?return_task_ids=true", tasks)
        task_ids = sorted(int(t) for t in answer["task_ids"])
    return {"project_id": pid, "task_ids": task_ids, "tasks": tasks, "config": config}


@pytest.fixture(scope="module")
def projects(http: httpx.Client) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (config, builder, data, labels) in CASES.items():
        tasks = _tasks(builder, data, labels)
        out[name] = _create(http, name, config, tasks)
    # a draft on the image project: a third source of regions
    image = out["image"]
    draft = {"result": _image_result(9, "cat")[:3], "lead_time": 2.0}
    image["draft"] = (image["task_ids"][3], draft["result"])
    _post(http, f"/api/tasks/{image['task_ids'][3]}/drafts", draft)
    return out


@pytest.fixture(scope="module")
def client(label_studio: Any) -> Iterator[ls_frames.Client]:
    with ls_frames.Client(label_studio.url, label_studio.admin_key) as c:
        yield c


@pytest.fixture(scope="module")
def exported(
    projects: dict[str, dict[str, Any]],
    client: ls_frames.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], Any]:
    """(case, shape) -> (path of the downloaded JSON, Frames read with the label config)."""
    out = {}
    for name, project in projects.items():
        for shape, serialization in SHAPES.items():
            export = client.create_export(project["project_id"], serialization=serialization)
            folder = tmp_path_factory.mktemp(f"{name}-{shape}")
            path = export.wait(timeout=120, progress=False).download(folder, progress=False)
            frames = ls_frames.read_export(path, label_config=project["config"], progress=False)
            out[name, shape] = (path, frames)
    return out


# ------------------------------------------------------------------------ helpers


def _expected_items(
    project: dict[str, Any], shape: str
) -> list[tuple[int, str, int, dict[str, Any]]]:
    """(task id, source, position of the source in its task, result item) of every sent item
    the export must carry in this shape."""
    out: list[tuple[int, str, int, dict[str, Any]]] = []
    for tid, task in zip(project["task_ids"], project["tasks"], strict=True):
        for pos, ann in enumerate(task.get("annotations", [])):
            out.extend((tid, "annotation", pos, it) for it in ann["result"])
        if shape == "full":
            for pos, pred in enumerate(task.get("predictions", [])):
                out.extend((tid, "prediction", pos, it) for it in pred["result"])
    if shape == "full" and "draft" in project:
        tid, result = project["draft"]
        out.extend((tid, "draft", 0, it) for it in result)
    return out


def _positions(frames: ls_frames.Frames) -> dict[tuple[str, int], int]:
    """(source, source id) -> its position among its task's objects of that source."""
    out = {}
    for source, table, key in (
        ("annotation", frames.annotations, "annotation_id"),
        ("prediction", frames.predictions, "prediction_id"),
        ("draft", frames.drafts, "draft_id"),
    ):
        ordered = table.sort_values(key)
        for _, group in ordered.groupby("task_id"):
            for pos, sid in enumerate(group[key]):
                out[source, int(sid)] = pos
    return out


def _rows(frames: ls_frames.Frames) -> dict[tuple[int, str, int, int], tuple[str, Any]]:
    """(task id, source, position, result index) -> (table name, row) of every result row."""
    positions = _positions(frames)
    out: dict[tuple[int, str, int, int], tuple[str, Any]] = {}
    row: Any  # a row's fields are scalars of any type
    for name in ("regions", "relations"):
        for row in frames[name].itertuples(index=False):
            key = (
                int(row.task_id),
                str(row.source),
                positions[str(row.source), int(row.source_id)],
                int(row.result_index),
            )
            assert key not in out, f"two rows for one result item: {key}"
            out[key] = (name, row)
    return out


def _list(value: Any) -> Any:
    if value is None or (not hasattr(value, "__len__") and pd.isna(value)):
        return None
    return [_list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v for v in value]


def _na(value: Any) -> Any:
    return None if value is None or (not hasattr(value, "__len__") and pd.isna(value)) else value


def _check_region(row: Any, item: dict[str, Any]) -> None:
    value = item["value"]
    assert json.loads(row.value_json) == value
    assert (row.region_id, row.from_name, row.to_name, row.type) == (
        item["id"],
        item["from_name"],
        item["to_name"],
        item["type"],
    )
    label_keys = [k for k in value if k.endswith("labels") or k == "labels"]
    assert _list(row.labels) == (value[label_keys[0]] if label_keys else None)
    assert _na(row.label) == (value[label_keys[0]][0] if label_keys else None)
    assert _list(row.choices) == value.get("choices")
    assert _na(row.choice) == (value["choices"][0] if "choices" in value else None)
    assert _list(row.text) == (
        value.get("text")
        if isinstance(value.get("text"), list)
        else None
        if "text" not in value
        else [value["text"]]
    )
    assert _list(row.taxonomy) == value.get("taxonomy")
    assert _list(row.points) == value.get("points")
    for column, key in (
        ("x", "x"),
        ("y", "y"),
        ("width", "width"),
        ("height", "height"),
        ("rotation", "rotation"),
        ("rating", "rating"),
        ("number", "number"),
        ("datetime", "datetime"),
    ):
        assert _na(getattr(row, column)) == value.get(key), column
    for column in ("start", "end"):
        sent = value.get(column)
        assert _na(getattr(row, f"{column}_text")) == (
            None if sent is None else sent if isinstance(sent, str) else json.dumps(sent)
        )
        # integers (text offsets) in an int64 column; seconds and XPaths only as text
        assert _na(getattr(row, column)) == (sent if type(sent) is int else None)
    if "points" in value and "original_width" in item:
        want = [
            [x * item["original_width"] / 100, y * item["original_height"] / 100]
            for x, y in value["points"]
        ]
        got = _list(row.points_px)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g == pytest.approx(w)
    for column in ("original_width", "original_height"):
        assert _na(getattr(row, column)) == item.get(column)
    if "original_width" in item and "x" in value:
        assert row.x_px == pytest.approx(value["x"] * item["original_width"] / 100)
        assert row.width_px == pytest.approx(value["width"] * item["original_width"] / 100)


def _check_relation(row: Any, item: dict[str, Any]) -> None:
    assert (row.from_id, row.to_id, row.direction) == (
        item["from_id"],
        item["to_id"],
        item["direction"],
    )
    assert _list(row.labels) == item.get("labels")


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("case", list(CASES))
def test_every_result_item_lands_in_one_row(
    case: str, shape: str, projects: dict[str, Any], exported: dict[Any, Any]
) -> None:
    project = projects[case]
    _, frames = exported[case, shape]
    rows = _rows(frames)
    expected = _expected_items(project, shape)
    seen = set()
    # items of one source arrive in result order: the n-th sent item has result_index n
    counters: dict[tuple[int, str, int], int] = {}
    for tid, source, pos, item in expected:
        index = counters.get((tid, source, pos), 0)
        counters[tid, source, pos] = index + 1
        key = (tid, source, pos, index)
        assert key in rows, f"result item {item} missing"
        table, row = rows[key]
        if item["type"] == "relation":
            assert table == "relations"
            _check_relation(row, item)
        else:
            assert table == "regions"
            _check_region(row, item)
        seen.add(key)
    assert set(rows) == seen  # nothing extra


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("case", list(CASES))
def test_annotations_predictions_and_flags(
    case: str, shape: str, projects: dict[str, Any], exported: dict[Any, Any]
) -> None:
    project = projects[case]
    _, frames = exported[case, shape]
    sent_anns = [
        (tid, a)
        for tid, t in zip(project["task_ids"], project["tasks"], strict=True)
        for a in t.get("annotations", [])
    ]
    anns = frames.annotations.sort_values("annotation_id")
    assert len(anns) == len(sent_anns)
    assert list(anns["task_id"]) == [tid for tid, _ in sent_anns]
    assert list(anns["was_cancelled"]) == [a["was_cancelled"] for _, a in sent_anns]
    assert list(anns["ground_truth"]) == [a["ground_truth"] for _, a in sent_anns]
    assert list(anns["n_results"]) == [len(a["result"]) for _, a in sent_anns]
    if shape == "full":
        assert anns["completed_by_email"].notna().all()
    else:
        assert anns["completed_by_email"].isna().all()
        assert anns["completed_by_id"].notna().all()
    preds = frames.predictions.sort_values("prediction_id")
    sent_preds = [p for t in project["tasks"] for p in t.get("predictions", [])]
    assert len(preds) == len(sent_preds)
    if shape == "full":
        assert list(preds["model_version"]) == [p["model_version"] for p in sent_preds]
        assert list(preds["n_results"]) == [len(p["result"]) for p in sent_preds]
    else:
        assert preds["model_version"].isna().all() and preds["n_results"].isna().all()
    assert len(frames.tasks) == len(project["tasks"])
    assert sorted(frames.tasks["task_id"]) == project["task_ids"]


@pytest.mark.parametrize("case", ["image", "text", "audio", "video", "brush"])
def test_label_columns_are_categoricals_in_config_order(
    case: str, projects: dict[str, Any], exported: dict[Any, Any]
) -> None:
    config = ls_frames.reading.parse_label_config(projects[case]["config"])
    _, frames = exported[case, "full"]
    regions = frames.regions
    label = regions["label"]
    assert isinstance(label.dtype, pd.CategoricalDtype)
    declared = list(config.values_of("labels"))
    assert list(label.cat.categories[: len(declared)]) == declared
    assert set(label.dropna()) <= set(declared)
    names = [c.name for c in config.controls]
    assert list(regions["from_name"].cat.categories[: len(names)]) == names
    if any(c.type == "choices" for c in config.controls):
        declared_choices = list(config.values_of("choices"))
        assert list(regions["choice"].cat.categories[: len(declared_choices)]) == declared_choices


def test_tag_specific_columns(exported: dict[Any, Any]) -> None:
    brush = exported["brush", "full"][1].regions
    assert all(json.loads(v)["rle"] for v in brush["value_json"])
    assert brush["labels"].map(len).eq(1).all()
    video = exported["video", "full"][1].regions
    assert video["type"].eq("videorectangle").all()
    assert all(len(json.loads(v)["sequence"]) == 2 for v in video["value_json"])
    audio = exported["audio", "full"][1].regions
    assert pd.to_numeric(audio["start"]).lt(pd.to_numeric(audio["end"])).all()
    text = exported["text", "full"][1].regions
    assert str(text["start"].dtype) == "Int64" and str(text["end"].dtype) == "Int64"
    for row in text.itertuples():
        assert _SENTENCE[row.start : row.end] == row.text[0]
    assert audio["start"].isna().all() and audio["start_text"].notna().all()
    # polygons and keypoints have an enclosing box, in pixels, from the server's export
    image_regions = exported["image", "full"][1].regions
    shapes = image_regions[image_regions["type"].isin(["polygonlabels", "keypointlabels"])]
    coco = to_coco(shapes)
    for i, row in enumerate(shapes.itertuples()):
        w, h = row.original_width, row.original_height
        if row.type == "polygonlabels":
            xs = [p[0] * w / 100 for p in row.points]
            ys = [p[1] * h / 100 for p in row.points]
            want = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        else:
            want = [row.x * w / 100, row.y * h / 100, 0.0, 0.0]
        got = [coco[k][i] for k in ("x", "y", "width", "height")]
        assert got == pytest.approx(want)
    ranker = exported["ranker", "full"][1].regions
    assert ranker["labels"].isna().all() and ranker["choices"].isna().all()
    assert all("relevant" in json.loads(v)["ranker"] for v in ranker["value_json"])
    image = exported["image", "full"][1]
    wide = image.regions_wide()
    boxes = wide[wide["type"] == "rectanglelabels"]
    sent_poses = {
        it["id"]: it["value"]["choices"][0]
        for t in exported_cases_tasks("image")
        for a in t.get("annotations", [])
        for it in a["result"]
        if it.get("from_name") == "pose"
    }
    posed = boxes[boxes["region_id"].isin(sent_poses)]
    assert len(posed) and all(posed["pose"].astype(str) == posed["region_id"].map(sent_poses))


def exported_cases_tasks(case: str) -> list[dict[str, Any]]:
    _, builder, data, labels = CASES[case]
    return _tasks(builder, data, labels)


def test_video_interpolation_fills_the_frames(
    projects: dict[str, Any], client: ls_frames.Client, tmp_path: Any
) -> None:
    project = projects["video"]
    serialization = ls_frames.Serialization(interpolate_key_frames=True)
    export = client.create_export(project["project_id"], serialization=serialization)
    path = export.wait(timeout=120, progress=False).download(tmp_path, progress=False)
    frames = ls_frames.read_export(path, progress=False)
    regions = frames.regions[frames.regions["source"] == "annotation"]
    sent = [it for t in project["tasks"] for a in t.get("annotations", []) for it in a["result"]]
    assert len(regions) == len(sent)
    for value_json in regions["value_json"]:
        value = json.loads(value_json)
        frames_written = [s["frame"] for s in value["sequence"]]
        # key frames 1 (enabled) .. 5 (disabled): every frame from 1 to 5 is written
        assert frames_written == list(range(1, 6))


def test_empty_project_has_typed_empty_tables(
    http: httpx.Client, client: ls_frames.Client, exported: dict[Any, Any], tmp_path: Any
) -> None:
    project = _create(http, "empty", IMAGE, [])
    export = client.create_export(project["project_id"])
    path = export.wait(timeout=120, progress=False).download(tmp_path, progress=False)
    frames = ls_frames.read_export(path, label_config=IMAGE, progress=False)
    full = exported["image", "full"][1]
    for name in ("annotations", "predictions", "drafts", "regions", "relations"):
        assert len(frames[name]) == 0
        assert list(frames[name].columns) == list(full[name].columns)
        assert [str(d) for d in frames[name].dtypes] == [str(d) for d in full[name].dtypes], name
    assert len(frames.tasks) == 0
    assert isinstance(frames.regions["label"].dtype, pd.CategoricalDtype)
    declared = list(ls_frames.reading.parse_label_config(IMAGE).values_of("labels"))
    assert list(frames.regions["label"].cat.categories) == declared
