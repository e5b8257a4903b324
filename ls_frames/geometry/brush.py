"""Label Studio's brush RLE (``value.rle`` of a ``brushlabels`` region) to a numpy mask.

The format is thi.ng's ``rle-pack``, read most significant bit first:

* a header: the number of values ``num`` (32 bits; ``height * width * 4``, the RGBA bytes
  of the mask), the word size minus one (5 bits) and four run-length field sizes minus one
  (4 bits each);
* then runs until ``num`` values are written: a flag bit, a 2-bit index choosing one of the
  four field sizes, a length ``n`` in that many bits, then either one word repeated
  ``n + 1`` times (flag 1) or ``n + 1`` words written as they are (flag 0).

Only the run headers are read one by one: a few integer operations per run (never per
bit) on 64-bit windows that numpy makes for a block of byte offsets at a time. The words
of literal runs are gathered with numpy at the end and only the alpha channel (every
fourth value) is materialised. The mask is what the official SDK gives
(``decode_rle(rle).reshape(h, w, 4)[:, :, 3]``), 0-255 (the frontend writes the brush's
opacity there: 255 inside, lower on anti-aliased edges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ls_frames.errors import RegionError

__all__ = ["rle_to_mask"]

_HEADER_BITS = 32 + 5 + 4 * 4
_BLOCK = 65536  # the most byte offsets whose 64-bit windows are made at once (~2.5 MB)


def _as_bytes(rle: Any) -> bytes:
    if isinstance(rle, (bytes, bytearray, memoryview)):
        return bytes(rle)
    if isinstance(rle, np.ndarray):
        if rle.ndim != 1 or rle.dtype.kind not in "iu":
            raise RegionError(f"brush RLE must be a 1-d array of integers, got {rle.dtype}")
        if rle.size and (int(rle.min()) < 0 or int(rle.max()) > 255):
            raise RegionError("brush RLE holds values outside 0-255")
        return rle.astype(np.uint8).tobytes()
    if isinstance(rle, Sequence) and not isinstance(rle, str):
        try:
            return bytes(rle)
        except (TypeError, ValueError) as exc:
            raise RegionError(f"brush RLE must be a list of bytes (ints 0-255): {exc}") from None
    raise RegionError(f"brush RLE must be a list of ints or bytes, got {type(rle).__name__}")


def _words(buf: bytes, bit_positions: NDArray[np.int64], word_size: int) -> NDArray[np.int64]:
    """The ``word_size``-bit words starting at these bit positions (``buf`` padded by 8)."""
    raw = np.frombuffer(buf, dtype=np.uint8)
    first = bit_positions >> 3
    window = np.zeros(bit_positions.shape, dtype=np.uint64)
    for k in range(5):  # 40 bits hold any word of up to 32 bits at any bit offset
        window = (window << np.uint64(8)) | raw[first + k].astype(np.uint64)
    shift = (40 - (bit_positions & 7) - word_size).astype(np.uint64)
    words: NDArray[np.int64] = ((window >> shift) & np.uint64((1 << word_size) - 1)).astype(
        np.int64
    )
    return words


def rle_to_mask(rle: Any, height: int, width: int) -> NDArray[np.uint8]:
    """Decode a Label Studio brush RLE into the mask's alpha channel.

    Parameters
    ----------
    rle:
        the ``rle`` list of a brush region's value (ints 0-255), or the same as ``bytes``
        or a 1-d integer numpy array.
    height, width:
        the image's ``original_height`` and ``original_width`` (pixels).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(height, width)``: exactly
        ``label_studio_sdk.converter.brush.decode_rle(rle).reshape(height, width, 4)[:, :, 3]``
        for every stream that decoder accepts.

    Raises
    ------
    ls_frames.errors.RegionError
        the stream is malformed: not bytes, shorter than its header or than its runs, a
        value count that is not ``height * width * 4``, a literal run past the end, a value
        that does not fit in a byte. (Like the official decoders, a repeat run that
        overshoots the end is cut at the end.)
    """
    data = _as_bytes(rle)
    n_bits = len(data) * 8
    if n_bits < _HEADER_BITS:
        raise RegionError(f"brush RLE is {len(data)} bytes, shorter than its 7-byte header")
    head = int.from_bytes(data[:7], "big")
    num = head >> 24
    word_size = ((head >> 19) & 0x1F) + 1
    sizes = [((head >> (15 - 4 * k)) & 0xF) + 1 for k in range(4)]
    if height < 0 or width < 0 or num != height * width * 4:
        raise RegionError(
            f"brush RLE holds {num} values; a {height}x{width} RGBA mask has {height * width * 4}"
        )
    buf = data + bytes(8)
    # the 64 bits from every byte offset, as Python ints, a block of offsets at a time
    view = np.ndarray((len(data) + 1,), dtype=">u8", buffer=buf, strides=(1,))
    windows: list[int] = []
    base = block = 0
    span = 256  # grows while headers follow each other, shrinks when literal runs jump on
    word_mask = (1 << word_size) - 1
    # per field index: shift to the run length, its mask, shift to a repeat run's word,
    # header bits, header and word bits (the window is shifted so that bit p is bit 63)
    fields = [(61 - s, (1 << s) - 1, 61 - s - word_size, 3 + s, 3 + s + word_size) for s in sizes]
    runs: list[int] = []  # per run: its end (exclusive, in values), its word or -1-bit position
    i, p = 0, _HEADER_BITS
    while i < num and p < n_bits:
        k = (p >> 3) - base
        if k >= block:
            if block:
                span = min(span * 4, _BLOCK) if k < block + 8 else max(span // 4, 16)
            base, k = p >> 3, 0
            windows = view[base : base + span].tolist()
            block = len(windows)
        window = windows[k] << (p & 7)
        to_length, field, to_word, head, head_word = fields[(window >> 61) & 3]
        n = (window >> to_length) & field
        i += n + 1
        if (window >> 63) & 1:  # a repeat run: one word (57 bits in the window: it fits)
            runs += (i, (window >> to_word) & word_mask)
            p += head_word
        else:  # a literal run: its words are gathered below
            runs += (i, -1 - (p + head))
            p += head + (n + 1) * word_size
    if i < num or p > n_bits:
        raise RegionError(
            f"brush RLE ends after {len(data)} bytes, inside its runs "
            f"({min(i, num)} of {num} values written)"
        )
    table = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    ends, words = table[:, 0], table[:, 1]
    is_literal = words < 0
    if i > num:  # the last run overshoots: a repeat run is cut, a literal run is an error
        if is_literal[-1]:
            raise RegionError(f"brush RLE: the last literal run passes the end ({num} values)")
        ends[-1] = num
    fill_values = np.where(is_literal, 0, words)
    if word_size > 8 and fill_values.size and int(fill_values.max()) > 255:
        raise RegionError("brush RLE: a repeated value does not fit in a byte")
    alpha_ends = ends >> 2
    alpha = np.repeat(fill_values.astype(np.uint8), np.diff(alpha_ends, prepend=0))
    if is_literal.any():
        starts = np.concatenate(([0], ends[:-1]))[is_literal]
        stops, bits0 = ends[is_literal], -1 - words[is_literal]
        if word_size > 8:  # the SDK refuses any value over 255, on every channel
            lengths = stops - starts
            offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
            bits = np.repeat(bits0, lengths) + offsets * word_size
            if bits.size and int(_words(buf, bits, word_size).max()) > 255:
                raise RegionError("brush RLE: a value does not fit in a byte")
        first, last = starts >> 2, stops >> 2  # alpha indices [first, last)
        n_alpha = last - first
        index = np.arange(int(n_alpha.sum()), dtype=np.int64) + np.repeat(
            first - (np.cumsum(n_alpha) - n_alpha), n_alpha
        )
        bits = np.repeat(bits0 - starts * word_size, n_alpha) + (index * 4 + 3) * word_size
        alpha[index] = _words(buf, bits, word_size).astype(np.uint8)
    return alpha.reshape(height, width)
