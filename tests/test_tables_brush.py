"""``rle_to_mask`` against the official SDK's decoder (run in the Label Studio venv).

Random masks written by two encoders (the format's own rules with literal chunks, any word
size and run-field sizes; the SDK's ``mask2rle``), every brush region of the corpus, and
malformed streams, which must raise ``RegionError`` where the SDK fails too. The decoder
finds run headers two ways (one at a time, or a vectorised walk over blocks of bit
positions) and switches by density; the random, realistic and malformed cases run under
each way forced on its own, and with both switching every few runs, and a generated test
checks on arbitrary bytes that the ways agree (same mask, or both refuse).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ls_frames
from ls_frames.errors import RegionError
from ls_frames.geometry import brush
from ls_frames.geometry.brush import rle_to_mask
from tests.brush_reference import encode, rgba, sdk_decode
from tests.fuzz_runs import examples, run_counted

CORPUS = Path(__file__).parent / "corpus"
CASES: Counter[str] = Counter()

# How run headers are found: as chosen by density (the default), one at a time only, the
# vectorised walk only (blocks of 64 bit positions: many block boundaries), and both
# switching every run.
READERS: dict[str, dict[str, int]] = {
    "auto": {},
    "one_by_one": {"SHORT_BITS": 1 << 62, "DENSE_BITS": 0},
    "walk": {"SHORT_BITS": 0, "DENSE_BITS": 1 << 62, "_FIRST_BITS": 64, "_MOST_BITS": 256},
    "switching": {"SHORT_BITS": 0, "DENSE_BITS": 24, "PROBE_RUNS": 1, "_FIRST_BITS": 64},
}


@pytest.fixture(params=list(READERS))
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in READERS[request.param].items():
        assert hasattr(brush, name), name
        monkeypatch.setattr(brush, name, value)
    return str(request.param)


def _decode_with(reader: str, rle: Any, h: int, w: int) -> np.ndarray | str:
    """``rle_to_mask`` under one reader's settings; the error's class name if it raised."""
    saved = {name: getattr(brush, name) for name in READERS[reader]}
    try:
        for name, value in READERS[reader].items():
            setattr(brush, name, value)
        return rle_to_mask(rle, h, w)
    except RegionError as exc:
        return type(exc).__name__
    finally:
        for name, value in saved.items():
            setattr(brush, name, value)


def _random_cases(seed: int, n: int) -> list[tuple[list[int], int, int]]:
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(n):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        a = np.zeros((h, w), np.uint8)
        a[rng.random((h, w)) < rng.random()] = 255
        a[rng.random((h, w)) < 0.05] = rng.integers(0, 256)
        word_size = int(rng.choice([8, 8, 8, 9, 12, 16, 31, 32]))
        sizes = tuple(int(v) for v in rng.integers(1, 17, 4))
        rle = encode(
            rgba(a, grey=k % 3 != 0),
            word_size,
            sizes,  # type: ignore[arg-type]
            min_repeat=int(rng.integers(1, 6)),
        )
        cases.append((rle, h, w))
    return cases


def test_random_masks_equal_the_sdk(reader: str) -> None:
    cases = _random_cases(0, 300)
    expected = sdk_decode(cases)
    for (rle, h, w), want in zip(cases, expected, strict=True):
        assert isinstance(want, np.ndarray), want
        got = rle_to_mask(rle, h, w)
        assert got.dtype == np.uint8 and got.shape == (h, w)
        np.testing.assert_array_equal(got, want)


def test_one_mask_with_every_kind_of_run(reader: str) -> None:
    # long runs (2**16 cap), literal chunks and repeat runs, at a realistic size
    rng = np.random.default_rng(5)
    a = np.zeros((300, 400), np.uint8)
    a[50:250, 100:300] = 255
    a[rng.random(a.shape) < 0.02] = 128
    cases = [(encode(rgba(a, grey=False)), 300, 400), (encode(rgba(a)), 300, 400)]
    for (rle, h, w), want in zip(cases, sdk_decode(cases), strict=True):
        np.testing.assert_array_equal(rle_to_mask(rle, h, w), want)
        np.testing.assert_array_equal(rle_to_mask(bytes(rle), h, w), want)
        np.testing.assert_array_equal(rle_to_mask(np.asarray(rle), h, w), want)
        np.testing.assert_array_equal(want, a)


def _corpus_brush_regions() -> list[tuple[str, list[int], int, int]]:
    out = []
    for path in sorted(CORPUS.rglob("*.json")):
        text = path.read_text()
        if '"rle"' not in text:
            continue
        tasks = json.loads(text)
        for task in tasks if isinstance(tasks, list) else [tasks]:
            for group in ("annotations", "predictions"):
                for source in task.get(group) or []:
                    for item in source.get("result", []) if isinstance(source, dict) else []:
                        if "rle" in item.get("value", {}):
                            out.append(
                                (
                                    f"{path.name}:{task['id']}:{item['id']}",
                                    item["value"]["rle"],
                                    item["original_height"],
                                    item["original_width"],
                                )
                            )
    return out


def test_every_corpus_brush_region_equals_the_sdk() -> None:
    regions = _corpus_brush_regions()
    assert len(regions) >= 12  # masks_export.json: 4 tasks x 3 encoders + predictions
    expected = sdk_decode([(rle, h, w) for _, rle, h, w in regions])
    for (name, rle, h, w), want in zip(regions, expected, strict=True):
        assert isinstance(want, np.ndarray), (name, want)
        np.testing.assert_array_equal(rle_to_mask(rle, h, w), want, err_msg=name)


def test_corpus_regions_through_the_tables() -> None:
    frames = ls_frames.read_export(
        CORPUS / "label-studio-1.23.2" / "masks_export.json", progress=False
    )
    brush = frames.regions[frames.regions["type"] == "brushlabels"]
    assert len(brush) == 16
    for row in brush.itertuples():
        value = json.loads(row.value_json)
        mask = rle_to_mask(value["rle"], int(row.original_height), int(row.original_width))
        assert mask.shape == (row.original_height, row.original_width)
        assert mask.any()


def _header(num: int, word_size: int = 8, sizes: tuple[int, ...] = (3, 4, 8, 16)) -> str:
    return f"{num:032b}{word_size - 1:05b}" + "".join(f"{s - 1:04b}" for s in sizes)


def _pack(bits: str) -> list[int]:
    bits += "0" * (-len(bits) % 8)
    return [int(bits[k : k + 8], 2) for k in range(0, len(bits), 8)]


MALFORMED = {
    "short header": [0, 0, 0],
    # a 16-word literal with 5 words given
    "truncated runs": _pack(_header(64) + "0" + "01" + "1111" + "00000001" * 5),
    "literal past the end": _pack(_header(4) + "0" + "01" + "0111" + "00000001" * 8),
    "value over a byte": _pack(_header(4, 9) + "1" + "00" + "011" + "100000000"),
    "literal over a byte": _pack(
        _header(4, 9) + "0" + "00" + "011" + "000000001" * 2 + "100000000" + "000000001"
    ),  # on a colour channel
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_streams_raise_region_error_where_the_sdk_fails(name: str, reader: str) -> None:
    rle = MALFORMED[name]
    with pytest.raises(RegionError):
        rle_to_mask(rle, 1, 1)
    [sdk] = sdk_decode([(rle, 1, 1)])
    assert isinstance(sdk, str), f"the SDK decoded {name!r}"


def test_wrong_size_bad_bytes_and_types() -> None:
    rle = encode(rgba(np.full((2, 3), 255, np.uint8)))
    assert rle_to_mask(rle, 2, 3).tolist() == [[255] * 3] * 2
    with pytest.raises(RegionError, match="24 values; a 3x3"):
        rle_to_mask(rle, 3, 3)
    with pytest.raises(RegionError, match="0-255"):
        rle_to_mask([*rle, 256], 2, 3)
    with pytest.raises(RegionError, match="list of ints"):
        rle_to_mask("0, 1, 2", 2, 3)
    with pytest.raises(RegionError):
        rle_to_mask(np.asarray(rle, dtype=float), 2, 3)


def test_repeat_run_past_the_end_is_cut_like_the_sdk() -> None:
    rle = _pack(_header(8) + "1" + "01" + "1111" + "11111111")  # 16 x 255, 8 declared
    [sdk] = sdk_decode([(rle, 1, 2)])
    np.testing.assert_array_equal(rle_to_mask(rle, 1, 2), sdk)
    assert rle_to_mask(rle, 1, 2).tolist() == [[255, 255]]


def test_a_full_hd_mask_of_long_runs_takes_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kind of mask the walk is for: 1080x1920, discs, the SDK's encoder's stream shape
    yy, xx = np.mgrid[:1080, :1920]
    a = np.zeros((1080, 1920), np.uint8)
    for cx, cy, r in [(300, 200, 150), (1500, 800, 90), (900, 540, 40)]:
        a[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = 255
    rle = encode(rgba(a))
    walked = []
    walk = brush._Stream._walk

    def counting(self: Any, p: int, i: int, span: int) -> Any:
        walked.append(span)
        return walk(self, p, i, span)

    monkeypatch.setattr(brush._Stream, "_walk", counting)
    np.testing.assert_array_equal(rle_to_mask(rle, 1080, 1920), a)
    assert walked  # the default settings chose the vectorised walk for this stream
    [sdk] = sdk_decode([(rle, 1080, 1920)])
    np.testing.assert_array_equal(sdk, a)


_streams = st.tuples(
    st.integers(1, 6),  # height
    st.integers(1, 6),  # width
    st.sampled_from([8, 8, 9, 16, 32]),  # word size
    st.lists(st.integers(1, 16), min_size=4, max_size=4),  # run-field sizes
    st.binary(min_size=0, max_size=300),  # the runs: arbitrary bits
)


@settings(
    max_examples=examples(1500),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_streams)
def _every_reader_agrees(stream: tuple[int, int, int, list[int], bytes]) -> None:
    CASES["brush readers"] += 1
    h, w, word_size, sizes, body = stream
    header = _pack(_header(h * w * 4, word_size, tuple(sizes)))  # 53 bits, in 7 bytes
    data = bytes(header[:6]) + bytes([header[6] | (body[0] & 7 if body else 0)]) + body[1:]
    results = [_decode_with(name, data, h, w) for name in READERS]
    first = results[0]
    for name, got in zip(READERS, results, strict=True):
        if isinstance(first, str) or isinstance(got, str):
            assert got == first, (name, got, first)
        else:
            np.testing.assert_array_equal(got, first, err_msg=name)


def test_every_reader_agrees_on_arbitrary_streams() -> None:
    run_counted(_every_reader_agrees, CASES, "brush readers", 1500)
