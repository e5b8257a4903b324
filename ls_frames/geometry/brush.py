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

__all__ = ["mask_to_rle", "rle_to_mask"]

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


#: The official encoder's header: 8-bit words and run-length fields of 3, 4, 8, 16 bits.
_SIZES = (3, 4, 8, 16)
_LONGEST = 1 << 16


def mask_to_rle(mask: Any) -> list[int]:
    """Encode a mask as Label Studio's brush RLE, the inverse of :func:`rle_to_mask`.

    The stream is byte for byte what the official encoder writes
    (``label_studio_sdk.converter.brush.mask2rle``): the mask's values repeated on the
    four RGBA channels, 8-bit words, run-length fields of 3, 4, 8 and 16 bits, one repeat
    run per run of equal values (split into runs of 65,536 values when longer; a lone
    value as a literal run), zero bits to the next byte and one zero byte more when the
    stream already ends on a byte (as the official encoder does).

    Parameters
    ----------
    mask
        A 2-d array ``(height, width)``: booleans (``True`` is painted, written as 255)
        or integers 0-255 (the alpha written as it is: 255 inside, lower on soft edges).

    Returns
    -------
    list of int
        The RLE bytes, ready for a brush region's ``value.rle``;
        ``rle_to_mask(mask_to_rle(m), *m.shape)`` gives ``m`` back (``m * 255`` for a
        boolean mask).

    Raises
    ------
    ls_frames.errors.RegionError
        The mask is not 2-d, is empty, holds values outside 0-255 or non-integers, or is
        too large for the format's 32-bit value count.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 6), dtype=bool)
    >>> m[1:3, 2:5] = True
    >>> rle = mask_to_rle(m)
    >>> bool((rle_to_mask(rle, 4, 6) == m * 255).all())
    True
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise RegionError(f"a mask must be 2-d (height, width), got shape {arr.shape}")
    if arr.size == 0:
        raise RegionError(f"a mask of shape {arr.shape} is empty")
    if arr.dtype == np.bool_:
        flat = arr.ravel().astype(np.int64) * 255
    elif arr.dtype.kind in "iu":
        flat = arr.ravel().astype(np.int64)
        if int(flat.min()) < 0 or int(flat.max()) > 255:
            raise RegionError("a mask's values must be 0-255 (or booleans)")
    else:
        raise RegionError(f"a mask must hold booleans or integers 0-255, got {arr.dtype}")
    num = flat.size * 4
    if num >= 1 << 32:
        raise RegionError(f"a mask of {flat.size} pixels is too large for a brush RLE")
    # runs of equal values, each four times as long on the RGBA channels
    change = np.flatnonzero(flat[1:] != flat[:-1])
    ends = np.append(change, flat.size - 1)
    lengths = np.diff(np.append(-1, ends)) * 4
    values = flat[ends]
    codes, widths = _run_codes(lengths, values)
    sizes = 7 << 16  # the word size minus one (5 bits), then each field size minus one
    for k, s in enumerate(_SIZES):
        sizes |= (s - 1) << (12 - 4 * k)
    codes = np.concatenate(([num, sizes], codes))
    widths = np.concatenate(([32, _HEADER_BITS - 32], widths))
    return _pack(codes, widths)


def _run_codes(
    lengths: NDArray[np.int64], values: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each run as one code (flag, field index, length - 1, word) and its width in bits."""
    # a run longer than 2**16 is written as runs of 2**16 then the rest in a 16-bit field
    full = np.where(lengths > _LONGEST, (lengths - 1) // _LONGEST, 0)
    pieces = full + 1
    value = np.repeat(values, pieces)
    start = np.cumsum(pieces) - pieces
    last = start + pieces - 1
    length = np.full(int(pieces.sum()), _LONGEST, dtype=np.int64)
    length[last] = lengths - full * _LONGEST
    index = np.select([length <= 8, length <= 16, length <= 256], [0, 1, 2], 3)
    index[start[full > 0]] = 3
    index[last[full > 0]] = 3
    size = np.asarray(_SIZES, dtype=np.int64)[index]
    single = length == 1  # a literal run of one word: flag 0, field 0, length 0
    flag = np.where(single, 0, 1)
    index = np.where(single, 0, index)
    size = np.where(single, 3, size)
    codes = (((flag << 2 | index) << size | (length - 1)) << 8) | value
    return codes, 3 + size + 8


def _pack(codes: NDArray[np.int64], widths: NDArray[np.int64]) -> list[int]:
    """The bit fields (each at most 33 bits), most significant bit first, in bytes; then
    the official encoder's padding (to the next byte, a whole zero byte when already on
    one). Each field lands in a 40-bit window at its byte; the fields' bits never
    overlap, so the windows' bytes are summed into place."""
    ends = np.cumsum(widths)
    starts = ends - widths
    total = int(ends[-1]) if ends.size else 0
    n_bytes = total // 8 + 1
    at = starts >> 3
    shift = (40 - widths - (starts & 7)).astype(np.uint64)
    window = codes.astype(np.uint64) << shift
    out = np.zeros(n_bytes + 5, dtype=np.float64)
    for k in range(5):
        byte = (window >> np.uint64(32 - 8 * k)) & np.uint64(0xFF)
        out += np.bincount(at + k, weights=byte.astype(np.float64), minlength=n_bytes + 5)
    packed: list[int] = out[:n_bytes].astype(np.uint8).tolist()
    return packed
