"""A page of the review gallery: 24 Full-HD images with boxes and brush masks, drawn.

Generated data: 24 tasks, each a 1920x1080 JPEG (a gradient with noise, quality 90; the
size is printed: aim at a photo's few hundred kB),
a reference annotation of 6 boxes and 2 brush masks, and a prediction of 7 scored boxes
and 1 mask. Two sides, in this order, in one process:

  ls_frames   ``ReviewPanel(frames, media=..., from_name="box", page_size=24)`` on frames
              read afresh for each run (nothing cached from the run before): the
              outcomes of every region (matched as ``evaluate`` matches), the metrics and
              a page of 24 cards, each task drawn by ``ls_frames.show`` (boxes, masks,
              captions, key) and shrunk to a 320-pixel JPEG; then the same page again from
              a fresh panel with the outcomes given (``evaluation=``), then a page turn
              back to a page already drawn (cached)
  matplotlib  what a user writes without it: per task ``imread``, ``imshow``, a
              ``Rectangle`` per box, each mask decoded (``ls_frames.rle_to_mask``, so the
              decoder is not what is compared) and overlaid with ``imshow(alpha=)``,
              ``savefig`` to a 320-pixel PNG; no matching, no captions

CPU time (``time.process_time``; the ratio is taken on it: the machine may be shared)
and wall time, best of ``--repeat``; peak RSS (``ru_maxrss``) after each side: the
matplotlib side runs second, so its figure includes ours.

    python benchmarks/bench_gallery.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import ls_frames  # noqa: E402
from ls_frames.evaluation.outcomes import region_outcomes  # noqa: E402

W, H = 1920, 1080
N_TASKS = 24
LABELS = ["car", "person", "bike"]
CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="car" background="#ff0000"/>
<Label value="person" background="#00aa00"/><Label value="bike" background="#0000ff"/>
</RectangleLabels>
<BrushLabels name="mask" toName="image"><Label value="road"/><Label value="sky"/></BrushLabels>
</View>"""


def _box(rng: random.Random, label: str, score: float | None = None) -> dict[str, Any]:
    x, y = rng.uniform(0, 80), rng.uniform(0, 80)
    item: dict[str, Any] = {
        "id": f"r{rng.getrandbits(32):08x}",
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": W,
        "original_height": H,
        "value": {
            "x": x,
            "y": y,
            "width": rng.uniform(5, 100 - x),
            "height": rng.uniform(5, 100 - y),
            "rotation": rng.choice([0, 0, 0, 15]),
            "rectanglelabels": [label],
        },
    }
    if score is not None:
        item["score"] = score
    return item


def _mask(rng: random.Random, label: str) -> dict[str, Any]:
    mask = np.zeros((H, W), np.uint8)
    cy, cx, r = rng.randrange(200, 880), rng.randrange(200, 1720), rng.randrange(80, 300)
    yy, xx = np.ogrid[:H, :W]
    mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
    return {
        "id": f"m{rng.getrandbits(32):08x}",
        "from_name": "mask",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": W,
        "original_height": H,
        "value": {"format": "rle", "rle": ls_frames.mask_to_rle(mask), "brushlabels": [label]},
    }


def _tasks(rng: random.Random) -> list[dict[str, Any]]:
    tasks = []
    for t in range(1, N_TASKS + 1):
        ref = [_box(rng, rng.choice(LABELS)) for _ in range(6)]
        ref += [_mask(rng, "road"), _mask(rng, "sky")]
        pred = [dict(b, id=f"p{k}", score=round(rng.random(), 3)) for k, b in enumerate(ref[:5])]
        pred += [_box(rng, rng.choice(LABELS), round(rng.random(), 3)) for _ in range(2)]
        pred.append(_mask(rng, "road"))
        tasks.append(
            {
                "id": t,
                "data": {"image": f"/data/upload/1/{t}.jpg"},
                "annotations": [
                    {
                        "id": 1000 + t,
                        "completed_by": {"id": 1, "email": "a@example.org"},
                        "result": ref,
                        "was_cancelled": False,
                        "ground_truth": True,
                    }
                ],
                "predictions": [{"id": 2000 + t, "model_version": "m1", "result": pred}],
            }
        )
    return tasks


def _images(folder: Path, rng: np.random.Generator) -> dict[int, Path]:
    from PIL import Image

    ramp = np.linspace(0, 255, W, dtype=np.float32)[None, :, None]
    paths = {}
    for t in range(1, N_TASKS + 1):
        noise = rng.normal(0, 6, (H, W, 3)).astype(np.float32)
        pixels = np.clip(ramp * [1.0, 0.6, 0.3] + noise + 20 * (t % 5), 0, 255).astype(np.uint8)
        path = folder / f"{t}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths[t] = path
    return paths


def _timed(job: Any, repeat: int, setup: Any = None) -> tuple[float, float, Any]:
    cpu, wall, out = [], [], None
    for _ in range(repeat):
        given = () if setup is None else (setup(),)
        t, c = time.perf_counter(), time.process_time()
        out = job(*given)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return min(cpu), min(wall), out


def _matplotlib_page(frames: Any, paths: dict[int, Path]) -> list[bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    regions = frames.regions
    out = []
    for task, path in paths.items():
        mine = regions[regions["task_id"] == task]
        fig, ax = plt.subplots(figsize=(3.2, 1.8), dpi=100)
        ax.imshow(plt.imread(path))
        for row in mine[mine["type"] == "rectanglelabels"].itertuples():
            ax.add_patch(
                Rectangle(
                    (row.x * W / 100, row.y * H / 100),
                    row.width * W / 100,
                    row.height * H / 100,
                    angle=float(row.rotation or 0),
                    fill=False,
                    linestyle="--" if row.source == "prediction" else "-",
                )
            )
        for row in mine[mine["type"] == "brushlabels"].itertuples():
            mask = ls_frames.rle_to_mask(json.loads(row.value_json)["rle"], H, W)
            ax.imshow(np.ma.masked_where(mask == 0, mask), alpha=0.4, cmap="autumn")
        ax.axis("off")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        out.append(buffer.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = _images(Path(tmp), np.random.default_rng(0))
        tasks = _tasks(random.Random(0))
        blob = json.dumps(tasks).encode()

        def fresh() -> Any:  # new frames: nothing drawn or grouped for them yet
            return ls_frames.read_export(blob, label_config=CONFIG, progress=False)

        frames = fresh()
        media = {t: str(p) for t, p in paths.items()}
        size = sum(p.stat().st_size for p in paths.values())

        def first_page(frames: Any, workers: int = 2) -> Any:
            return ls_frames.ReviewPanel(
                frames, media=media, from_name="box", page_size=24, workers=workers
            )

        outcomes = region_outcomes(frames, "box")

        def given_outcomes(frames: Any) -> Any:
            return ls_frames.ReviewPanel(
                frames, media=media, from_name="box", page_size=24, evaluation=outcomes
            )

        c = time.process_time()
        panel = first_page(frames)
        cold = time.process_time() - c
        assert panel.error is None and len(panel.page_rows) == 24, panel.error
        drawn = {k for k in panel._images}  # the cache holds 24 real pictures
        assert len(drawn) == 24
        assert all(panel._images[k].startswith("data:image/jpeg") for k in drawn)
        rows = [
            (
                "ReviewPanel: outcomes + first page of 24",
                *_timed(first_page, args.repeat, fresh)[:2],
            ),
            (
                "ReviewPanel: first page, outcomes given",
                *_timed(given_outcomes, args.repeat, fresh)[:2],
            ),
            (
                "ReviewPanel: as the first, one thread",
                *_timed(lambda f: first_page(f, 1), args.repeat, fresh)[:2],
            ),
        ]
        panel.next_button.click()

        def back() -> None:
            panel.previous_button.click()
            panel.next_button.click()

        rows.append(("page turn back and forth (cached)", *_timed(back, args.repeat)[:2]))
        ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu, wall, pngs = _timed(lambda: _matplotlib_page(frames, paths), args.repeat)
        rows.append(("matplotlib loop (24 images)", cpu, wall))
        theirs_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert len(pngs) == N_TASKS
    print(
        f"{N_TASKS} tasks, {W}x{H} JPEGs of {size / N_TASKS / 1e3:.0f} kB on average, "
        f"{len(frames.regions)} regions (boxes and masks)"
    )
    print(f"{'':44} {'CPU s':>7} {'wall s':>7}")
    for name, c, w in rows:
        print(f"{name:44} {c:7.3f} {w:7.3f}")
    print(f"first page, first call in the process (imports included): CPU {cold:.3f} s")
    print(f"ratio matplotlib / ReviewPanel first page (CPU): {rows[4][1] / rows[0][1]:.1f}x")
    print(f"peak RSS after ls_frames: {ours_rss:.0f} MB; after matplotlib too: {theirs_rss:.0f} MB")


if __name__ == "__main__":
    main()
