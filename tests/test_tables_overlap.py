"""ls_frames.geometry.overlap: pairwise IoU of boxes (rotation aware) and spans, checked
against geometry computed another way (closed forms, rigid motions, point sampling)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ls_frames.geometry.overlap import box_iou, paired_box_iou, paired_span_iou, span_iou
from ls_frames.geometry.shapes import box_corners


def _plain_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if inter > 0 else 0.0


def test_axis_aligned_matrix() -> None:
    a = [(0, 0, 10, 10), (5, 0, 10, 10), (50, 50, 0, 10)]
    b = [(0, 0, 10, 10), (10, 0, 10, 10), (2, 3, 4, 5)]
    got = box_iou(a, b)
    assert got.shape == (3, 3)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert got[i, j] == pytest.approx(_plain_iou(x, y))
    assert got[0, 1] == 0.0  # touching edges do not overlap
    assert (got[2] == 0).all()  # no area, no overlap
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def _rotate(box: tuple[float, ...], theta_deg: float) -> tuple[float, ...]:
    """The same box moved rigidly: rotated by theta clockwise around the origin."""
    t = math.radians(theta_deg)
    x, y = box[0] * math.cos(t) - box[1] * math.sin(t), box[0] * math.sin(t) + box[1] * math.cos(t)
    return (x, y, box[2], box[3], (box[4] if len(box) > 4 else 0.0) + theta_deg)


def test_a_rigid_motion_keeps_the_iou() -> None:
    rng = np.random.default_rng(7)
    pairs = []
    for _ in range(300):
        a = tuple(rng.uniform([0, 0, 1, 1], [60, 60, 40, 40]))
        b = tuple(rng.uniform([0, 0, 1, 1], [60, 60, 40, 40]))
        pairs.append((a, b, float(rng.uniform(-180, 180))))
    expected = np.array([_plain_iou(a, b) for a, b, _ in pairs])
    ra = np.array([_rotate(a, t) for a, _, t in pairs])
    rb = np.array([_rotate(b, t) for _, b, t in pairs])
    assert (expected > 0).sum() > 50 and (expected == 0).sum() > 10
    np.testing.assert_allclose(paired_box_iou(ra, rb), expected, atol=1e-9)


def test_square_and_itself_turned_45_degrees_about_its_centre() -> None:
    # the overlap is a regular octagon of area 2 (sqrt 2 - 1) s^2: IoU = 1 / sqrt 2
    s, c = 10.0, np.array([20.0, 20.0])
    t = math.radians(45)
    offset = np.array(
        [-s / 2 * math.cos(t) + s / 2 * math.sin(t), -s / 2 * math.sin(t) - s / 2 * math.cos(t)]
    )
    turned = (*(c + offset), s, s, 45.0)
    got = box_iou([(15, 15, s, s)], [turned])
    assert got[0, 0] == pytest.approx(1 / math.sqrt(2), abs=1e-12)


def _inside(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    ok = np.ones(len(points), bool)
    for e in range(4):
        p0, p1 = quad[e], quad[(e + 1) % 4]
        rel = points - p0
        ok &= (p1 - p0)[0] * rel[:, 1] - (p1 - p0)[1] * rel[:, 0] >= 0
    return ok


def test_rotated_pairs_against_point_sampling() -> None:
    rng = np.random.default_rng(3)
    a = np.column_stack(
        [
            rng.uniform(20, 40, 6),
            rng.uniform(20, 40, 6),
            rng.uniform(5, 20, 6),
            rng.uniform(5, 20, 6),
            rng.uniform(0, 90, 6),
        ]
    )
    b = a + np.column_stack([rng.uniform(-5, 5, (6, 4)), rng.uniform(-40, 40, 6)])
    got = paired_box_iou(a, b)
    pts = rng.uniform(-10, 90, (400_000, 2))
    size = {"original_width": np.full(6, 100.0), "original_height": np.full(6, 100.0)}
    qa = box_corners(
        {
            "x": a[:, 0],
            "y": a[:, 1],
            "width": a[:, 2],
            "height": a[:, 3],
            "rotation": a[:, 4],
            **size,
        }
    )
    qb = box_corners(
        {
            "x": b[:, 0],
            "y": b[:, 1],
            "width": b[:, 2],
            "height": b[:, 3],
            "rotation": b[:, 4],
            **size,
        }
    )
    for i in range(6):
        ia, ib = _inside(pts, qa[i]), _inside(pts, qb[i])
        sampled = (ia & ib).sum() / (ia | ib).sum()
        assert got[i] == pytest.approx(sampled, abs=0.01)
    assert (got > 0.05).sum() >= 3


def test_spans() -> None:
    got = span_iou([(0, 10), (5, 5), (20, 30)], [(5, 15), (0, 10), (30, 40)])
    np.testing.assert_allclose(got, [[5 / 15, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert paired_span_iou([(0, 4)], [(2, 6)])[0] == pytest.approx(2 / 6)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        box_iou([(0, 0, 1)], [(0, 0, 1, 1)])
    with pytest.raises(ValueError, match="shape"):
        span_iou([(0, 1, 2)], [(0, 1)])
