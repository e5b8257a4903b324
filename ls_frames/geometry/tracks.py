"""Video tracks: the keyframes of ``videorectangle`` regions filled in frame by frame.

The rules are the server's (``extract_key_frames``, applied to annotations when a snapshot
is made with ``interpolate_key_frames=True``):

* keyframes are taken in frame order (ties keep their order in the export);
* every keyframe is written as it is, disabled ones (``enabled: false``) included;
* after an enabled keyframe, every frame up to the next keyframe (exclusive) is written,
  each of ``x, y, width, height, rotation`` moved linearly by ``k / (next - this)`` of the
  way (``k`` frames after the keyframe); a value equal in both keyframes stays as it is;
* after a disabled keyframe nothing is written until the next keyframe (the box is gone);
* after the last keyframe, if enabled, its box is repeated up to ``framesCount``;
* ``time`` moves the same way, rounded to 2 decimals; where it would not move (equal
  times, or after the last keyframe) and the value has a ``duration``, it runs on towards
  the video's ``duration`` instead (what the server writes).

A region's rows are laid out as blocks (a keyframe, then the frames after it), so any
slice of them is computed directly from the keyframes: :func:`iter_tracks` yields the
table in chunks of at most ``chunk_rows`` rows, whatever the length of the video.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ls_frames.errors import ConfigurationError, RegionError
from ls_frames.reading.controls import kind_of

__all__ = ["interpolate_tracks", "iter_tracks"]

_KEYS = ("task_id", "source", "source_id", "region_id", "from_name", "label")
_MOVING = ("x", "y", "width", "height", "rotation")
_NEEDED = ("frame", "enabled", *_MOVING, "time")
COLUMNS = ("frame", *_MOVING, "time", "enabled", "keyframe")


class _Track:
    """One region's keyframes as arrays, in frame order, and its row layout."""

    def __init__(self, value: Any, name: str) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("sequence"), list):
            raise RegionError("a videorectangle value without a sequence list", region=name)
        sequence = value["sequence"]
        for keyframe in sequence:
            lacking = [k for k in _NEEDED if not isinstance(keyframe, dict) or k not in keyframe]
            if lacking:  # the server fails on these too (KeyError while exporting)
                raise RegionError(f"a keyframe lacks {lacking}: {keyframe!r}", region=name)
        ordered = sorted(sequence, key=lambda kf: kf["frame"])
        try:
            self.frame = np.array([kf["frame"] for kf in ordered], dtype=np.int64)
            self.values = {
                k: np.array([kf[k] for kf in ordered], dtype=np.float64) for k in (*_MOVING, "time")
            }
        except (TypeError, ValueError) as exc:
            raise RegionError(f"a keyframe value is not a number: {exc}", region=name) from None
        self.enabled = np.array([bool(kf["enabled"]) for kf in ordered], dtype=bool)
        frames_count = int(value.get("framesCount") or 0)
        self.duration = float(value.get("duration") or 0)
        n = len(ordered)
        nxt = np.append(self.frame[1:], frames_count + 1)  # the last runs to framesCount
        self.has_next = np.arange(n) < n - 1
        # k frames after a keyframe are k / span of the way to the next one
        self.span = np.maximum(1, np.where(self.has_next, nxt, frames_count) - self.frame)
        filled = np.where(self.enabled, np.maximum(0, nxt - self.frame - 1), 0)
        self.block_start = np.concatenate(([0], np.cumsum(1 + filled)))
        self.rows = int(self.block_start[-1])

    def _next(self, key: str) -> NDArray[np.float64]:
        values = self.values[key]
        return np.append(values[1:], values[-1:])  # the last is never read

    def slice(self, lo: int, hi: int) -> dict[str, Any]:
        """Columns of rows ``lo:hi`` of this track."""
        pos = np.arange(lo, hi, dtype=np.int64)
        block = np.searchsorted(self.block_start, pos, side="right") - 1
        k = pos - self.block_start[block]
        is_key = k == 0
        delta = k / self.span[block]
        has_next = self.has_next[block]
        out: dict[str, Any] = {"frame": self.frame[block] + k}
        for key in (*_MOVING, "time"):
            a = self.values[key][block]
            b = self._next(key)[block]
            moved = np.where(has_next & (a != b), (b - a) * delta, 0.0)
            out[key] = np.where(is_key, a, a + moved)
            if key == "time":
                out[key] = self._time(out[key], a, moved, delta, is_key)
        out["enabled"] = np.where(is_key, self.enabled[block], True)
        out["keyframe"] = is_key
        return out

    def _time(
        self,
        time: NDArray[np.float64],
        a: NDArray[np.float64],
        moved: NDArray[np.float64],
        delta: NDArray[np.float64],
        is_key: NDArray[np.bool_],
    ) -> NDArray[np.float64]:
        auto = ~is_key
        if not auto.any():
            return time
        if self.duration > 0:
            still = auto & (moved == 0)
            time = np.where(still, a + delta * (self.duration - a), time)
        rounded: NDArray[np.float64] = np.array(time, dtype=np.float64)
        rounded[auto] = round2(time[auto])
        return rounded


def round2(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Python's ``round(v, 2)`` of every value (what the server writes), vectorised.

    ``rint(v * 100) / 100`` is Python's answer unless ``v * 100`` lies within a few ulps of
    a half (where the product's own rounding may pick the other side): those few go
    through ``round`` itself.
    """
    scaled = values * 100.0
    out: NDArray[np.float64] = np.rint(scaled) / 100.0
    with np.errstate(invalid="ignore"):
        near = np.abs(scaled - np.floor(scaled) - 0.5) <= 4 * np.spacing(np.abs(scaled))
    if near.any():
        out[near] = [round(v, 2) for v in values[near].tolist()]
    return out


def _keys(regions: pd.DataFrame) -> list[str]:
    return [k for k in _KEYS if k in regions.columns]


def _video_rows(regions: pd.DataFrame) -> pd.DataFrame:
    if "type" not in regions.columns or "value_json" not in regions.columns:
        raise RegionError("a regions table needs 'type' and 'value_json' columns")
    is_video = regions["type"].astype(object).map(kind_of).eq("videorectangle")
    video: pd.DataFrame = regions[is_video.to_numpy(dtype=bool)]
    return video


def _tracks(video: pd.DataFrame) -> Iterator[tuple[int, _Track]]:
    keys = _keys(video)[:4]
    names = video[keys].astype(object).to_numpy()
    decode = msgspec.json.decode
    for position, text in enumerate(video["value_json"]):
        name = ", ".join(f"{k}={v}" for k, v in zip(keys, names[position], strict=True))
        try:
            value = decode(text)
        except (msgspec.DecodeError, TypeError) as exc:
            raise RegionError(f"value_json is not JSON: {exc}", region=name) from None
        yield position, _Track(value, name)


def _frame(video: pd.DataFrame, parts: list[tuple[int, dict[str, Any], int]]) -> pd.DataFrame:
    """The rows of these parts: the region's keys repeated (dtypes kept), then the values."""
    positions = np.repeat([pos for pos, _, _ in parts], [n for _, _, n in parts]).astype(np.int64)
    frame: pd.DataFrame = video[_keys(video)].iloc[positions].reset_index(drop=True)
    empty = np.array([], dtype=np.float64)
    for c in COLUMNS:
        values = [cols[c] for _, cols, _ in parts]
        column = np.concatenate(values) if values else empty
        dtype = np.int64 if c == "frame" else bool if c in ("enabled", "keyframe") else np.float64
        frame[c] = column.astype(dtype)
    return frame


def iter_tracks(regions: pd.DataFrame, *, chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """:func:`interpolate_tracks` in chunks of at most ``chunk_rows`` rows.

    Memory stays bounded by ``chunk_rows`` (plus the keyframes), however long the videos:
    a region whose track is longer than a chunk is split over several chunks.

    Parameters
    ----------
    regions:
        a regions table (``Frames.regions``); rows of other types than
        ``videorectangle`` are passed over.
    chunk_rows:
        the most rows a yielded DataFrame holds (at least 1).

    Yields
    ------
    pandas.DataFrame
        the columns of :func:`interpolate_tracks`; chunks in region order, frames in order.

    Raises
    ------
    ls_frames.errors.RegionError
        a video region whose value is not JSON, has no sequence, or has a keyframe lacking
        one of ``frame, enabled, x, y, width, height, rotation, time`` (names the region).
    """
    if chunk_rows < 1:
        raise ConfigurationError(f"chunk_rows must be at least 1, got {chunk_rows}")
    video = _video_rows(regions)
    parts: list[tuple[int, dict[str, Any], int]] = []
    held, yielded = 0, False
    for position, track in _tracks(video):
        lo = 0
        while lo < track.rows:
            hi = min(track.rows, lo + chunk_rows - held)
            parts.append((position, track.slice(lo, hi), hi - lo))
            held += hi - lo
            lo = hi
            if held == chunk_rows:
                yield _frame(video, parts)
                parts, held, yielded = [], 0, True
    if parts or not yielded:
        yield _frame(video, parts)


def interpolate_tracks(regions: pd.DataFrame) -> pd.DataFrame:
    """Every frame of every video rectangle, from its keyframes, as the server writes them.

    The same frames and values as the server's export with ``interpolate_key_frames=True``
    (see the module docstring for the rules), from an export made without it, for
    annotations, predictions and drafts alike (the server interpolates annotations only).
    For long videos use :func:`iter_tracks`, which yields the same rows in chunks.

    Parameters
    ----------
    regions:
        a regions table (``Frames.regions``); rows whose ``type`` is not
        ``videorectangle`` are passed over.

    Returns
    -------
    pandas.DataFrame
        one row per region per frame: the region's keys (``task_id, source, source_id,
        region_id, from_name, label`` where the table has them), ``frame`` (int, 1-based as
        in Label Studio), ``x, y, width, height`` (percent of the frame), ``rotation``
        (degrees), ``time`` (seconds), ``enabled`` (false on a keyframe that ends the box's
        life) and ``keyframe`` (false on filled-in frames: the server's ``auto``).

    Raises
    ------
    ls_frames.errors.RegionError
        as :func:`iter_tracks`.
    """
    chunks = list(iter_tracks(regions, chunk_rows=1_000_000))
    table: pd.DataFrame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    return table
