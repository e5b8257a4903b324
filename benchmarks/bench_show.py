"""Drawing labels on their images: ``ls_frames.show`` / ``show_grid`` against what a user
writes today (matplotlib: ``imshow`` plus one patch per region, the mask decoded and shown
with ``alpha``, the figure rendered to pixels).

The data: 24 Full-HD JPEG photos-like images (gradients and noise, quality 90) and a
project whose tasks each hold an annotation with 6 boxes (one turned 20 degrees), a
polygon and two 1920x1080 brush masks, and a prediction with 6 scored boxes.

Cases, each side in its own child process (so each peak RSS is its own):

  one    one task drawn at full size (1920x1080), median of ``--repeat`` runs
  page   a page of 24 tasks, 480x270 thumbnails (``show_grid``; matplotlib: a 6x4 grid
         of axes at the same pixel size), median of 3 runs

Times are CPU seconds (``time.process_time``: the machine may be shared) and wall
seconds; ``peak RSS`` is the child's ``ru_maxrss`` (imports included).

    python benchmarks/bench_show.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
W, H = 1920, 1080
N_TASKS = 24
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="car" background="#ff0000"/>
<Label value="person"/><Label value="bike"/></RectangleLabels>
<PolygonLabels name="area" toName="image"><Label value="road"/></PolygonLabels>
<BrushLabels name="mask" toName="image"><Label value="sky"/><Label value="tree"/></BrushLabels>
</View>"""


def _item(kind: str, name: str, value: dict[str, Any], **extra: object) -> dict[str, Any]:
    return {
        "from_name": name,
        "to_name": "image",
        "type": kind,
        "original_width": W,
        "original_height": H,
        "value": value,
        **extra,
    }


def make_data(folder: Path) -> Path:
    """The images and the export JSON; returns the export's path."""
    from PIL import Image

    import ls_frames

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    tasks = []
    for t in range(N_TASKS):
        base = np.stack([(xx * (t + 1)) % 256, (yy * 2) % 256, (xx + yy) % 256], axis=2)
        noise = rng.integers(0, 40, size=(H, W, 3))
        Image.fromarray((base + noise).clip(0, 255).astype(np.uint8)).save(
            folder / f"img-{t}.jpg", quality=90
        )
        boxes = []
        for k in range(6):
            value: dict[str, Any] = {
                "x": 5 + 14 * k,
                "y": 10 + 5 * k,
                "width": 10,
                "height": 20,
                "rotation": 20 if k == 0 else 0,
                "rectanglelabels": [["car", "person", "bike"][k % 3]],
            }
            boxes.append(_item("rectanglelabels", "box", value))
        masks = []
        for k, label in enumerate(("sky", "tree")):
            mask = np.zeros((H, W), np.uint8)
            cy, cx = 300 + 400 * k, 500 + 800 * k
            mask[((yy - cy) ** 2 + (xx - cx) ** 2) < (250 + 30 * k) ** 2] = 255
            value = {
                "format": "rle",
                "rle": ls_frames.mask_to_rle(mask),
                "brushlabels": [label],
            }
            masks.append(_item("brushlabels", "mask", value))
        road = _item(
            "polygonlabels",
            "area",
            {"points": [[0, 100], [40, 60], [60, 60], [100, 100]], "polygonlabels": ["road"]},
        )
        predicted = []
        for k, box in enumerate(boxes):
            moved = json.loads(json.dumps(box))
            moved["value"]["x"] += 1.5
            moved["score"] = round(0.3 + 0.1 * k, 2)
            predicted.append(moved)
        tasks.append(
            {
                "id": t + 1,
                "data": {"image": f"/data/upload/1/img-{t}.jpg"},
                "annotations": [
                    {
                        "id": 100 + t,
                        "completed_by": {"id": 1, "email": "a@x.org"},
                        "result": [*boxes, road, *masks],
                        "was_cancelled": False,
                        "ground_truth": False,
                        "updated_at": "2024-01-01T00:00:00Z",
                    }
                ],
                "predictions": [{"id": 500 + t, "model_version": "m1", "result": predicted}],
            }
        )
    path = folder / "export.json"
    path.write_text(json.dumps(tasks))
    return path


LS_FRAMES_SIDE = """
import json, resource, statistics, sys, time
from pathlib import Path
import ls_frames
folder, repeat = Path(sys.argv[1]), int(sys.argv[2])
frames = ls_frames.read_export(folder / "export.json", label_config=Path(sys.argv[3]).read_text(), progress=False)
frames.regions; frames.annotations; frames.predictions  # the tables, built once
one_cpu, one_wall, page_cpu, page_wall = [], [], [], []
ls_frames.show(frames, 1, media=folder)  # warm: imports, fonts
for _ in range(repeat):
    c, w = time.process_time(), time.perf_counter()
    picture = ls_frames.show(frames, 1, media=folder)
    one_cpu.append(time.process_time() - c); one_wall.append(time.perf_counter() - w)
ids = list(range(1, 25))
for _ in range(3):
    c, w = time.process_time(), time.perf_counter()
    page = ls_frames.show_grid(frames, ids, media=folder, columns=6, tile=(480, 270))
    page_cpu.append(time.process_time() - c); page_wall.append(time.perf_counter() - w)
page.save(folder / "page-ls_frames.jpg")
picture.save(folder / "one-ls_frames.jpg")
print(json.dumps({"one_cpu": statistics.median(one_cpu), "one_wall": statistics.median(one_wall),
  "page_cpu": statistics.median(page_cpu), "page_wall": statistics.median(page_wall),
  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# What a notebook user writes today: the percent maths per shape, the rotation about the
# top-left corner by hand, the SDK-free brush decode (ls_frames' rle_to_mask, the fastest
# there is), one matplotlib patch per region, the figure rendered to an RGB array.
MATPLOTLIB_SIDE = """
import json, resource, statistics, sys, time
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import patches, transforms
import numpy as np
from PIL import Image
from ls_frames import rle_to_mask
folder, repeat = Path(sys.argv[1]), int(sys.argv[2])
tasks = {t["id"]: t for t in json.loads((folder / "export.json").read_text())}
COLORS = {"car": "red", "person": "tab:blue", "bike": "tab:green", "road": "tab:orange",
          "sky": "tab:cyan", "tree": "tab:olive"}

def draw(ax, task):
    image = np.asarray(Image.open(folder / task["data"]["image"].rsplit("/", 1)[-1]).convert("RGB"))
    h, w = image.shape[:2]
    ax.imshow(image)
    ax.set_axis_off()
    for source, style in (("annotations", "-"), ("predictions", "--")):
        for item in task[source][0]["result"]:
            v = item["value"]
            if item["type"] == "rectanglelabels":
                label = v["rectanglelabels"][0]
                x, y = v["x"] * w / 100, v["y"] * h / 100
                rect = patches.Rectangle((x, y), v["width"] * w / 100, v["height"] * h / 100,
                    fill=False, linestyle=style, edgecolor=COLORS[label], linewidth=2,
                    transform=transforms.Affine2D().rotate_deg_around(x, y, v["rotation"]) + ax.transData)
                ax.add_patch(rect)
                ax.text(x, y, label, color="white", fontsize=7, backgroundcolor=COLORS[label])
            elif item["type"] == "polygonlabels":
                pts = np.array(v["points"]) * (w / 100, h / 100)
                ax.add_patch(patches.Polygon(pts, closed=True, fill=False, linestyle=style,
                                             edgecolor=COLORS[v["polygonlabels"][0]], linewidth=2))
            elif item["type"] == "brushlabels":
                mask = rle_to_mask(v["rle"], item["original_height"], item["original_width"])
                overlay = np.zeros((*mask.shape, 4))
                overlay[..., :3] = matplotlib.colors.to_rgb(COLORS[v["brushlabels"][0]])
                overlay[..., 3] = mask / 255 * 0.45
                ax.imshow(overlay)

def render(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())

one_cpu, one_wall, page_cpu, page_wall = [], [], [], []
for i in range(repeat + 1):
    c, w = time.process_time(), time.perf_counter()
    fig = plt.figure(figsize=(19.2, 10.8), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    draw(ax, tasks[1])
    pixels = render(fig)
    plt.close(fig)
    if i:  # the first run warms the imports and caches
        one_cpu.append(time.process_time() - c); one_wall.append(time.perf_counter() - w)
for _ in range(3):
    c, w = time.process_time(), time.perf_counter()
    fig, axes = plt.subplots(4, 6, figsize=(28.8, 10.8), dpi=100)
    for ax, task in zip(axes.ravel(), range(1, 25)):
        draw(ax, tasks[task])
    pixels = render(fig)
    plt.close(fig)
    page_cpu.append(time.process_time() - c); page_wall.append(time.perf_counter() - w)
print(json.dumps({"one_cpu": statistics.median(one_cpu), "one_wall": statistics.median(one_wall),
  "page_cpu": statistics.median(page_cpu), "page_wall": statistics.median(page_wall),
  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, folder: Path, repeat: int, config: Path) -> dict[str, float]:
    env_path = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(repeat), str(config)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="keep the images drawn in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(folder)
        config = folder / "config.xml"
        config.write_text(CONFIG)
        ours = _run(LS_FRAMES_SIDE, folder, args.repeat, config)
        theirs = _run(MATPLOTLIB_SIDE, folder, args.repeat, config)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("page-ls_frames.jpg", "one-ls_frames.jpg"):
                (args.keep / name).write_bytes((folder / name).read_bytes())
    print(
        f"{N_TASKS} Full-HD tasks: 6 boxes (one turned), a polygon, 2 masks, 6 predicted boxes each"
    )
    print(f"{'case':<34}{'ls_frames':>12}{'matplotlib':>12}{'ratio':>8}")
    for key, what in (
        ("one", "show, one image (median)"),
        ("page", "page of 24 thumbnails (median)"),
    ):
        for unit in ("cpu", "wall"):
            a, b = ours[f"{key}_{unit}"], theirs[f"{key}_{unit}"]
            print(f"{what + ' ' + unit:<34}{a * 1000:>10.1f}ms{b * 1000:>10.1f}ms{b / a:>7.1f}x")
    print(
        f"{'peak RSS (imports included)':<34}{ours['peak_rss_mb']:>10.0f}MB{theirs['peak_rss_mb']:>10.0f}MB"
    )


if __name__ == "__main__":
    main()
