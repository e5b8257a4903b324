"""Label Studio's brush RLE (``value.rle`` of a ``brushlabels`` region) to a numpy mask.

The format is thi.ng's ``rle-pack``, read most significant bit first:

* a header: the number of values ``num`` (32 bits; ``height * width * 4``, the RGBA bytes
  of the mask), the word size minus one (5 bits) and four run-length field sizes minus one
  (4 bits each);
* then runs until ``num`` values are written: a flag bit, a 2-bit index choosing one of the
  four field sizes, a length ``n`` in that many bits, then either one word repeated
  ``n + 1`` times (flag 1) or ``n + 1`` words written as they are (flag 0).

Each run's header says where the next one starts, so the runs are found in order: where
they are dense (masks of long runs: a header every 14-27 bits), numpy works out for every
bit position of a block where a run starting there would end, and the chain of runs is
followed through that table; where literal runs jump far, headers are read one at a time.
The runs' fields are then read with numpy, the words of literal runs gathered by their bit
positions, and only the alpha channel (every fourth value) is materialised. The mask is
what the official SDK gives (``decode_rle(rle).reshape(h, w, 4)[:, :, 3]``), 0-255 (the
frontend writes the brush's opacity there: 255 inside, lower on anti-aliased edges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ls_frames.errors import RegionError

__all__ = ["mask_to_rle", "rle_to_mask"]

_HEADER_BITS = 32 + 5 + 4 * 4
#: Streams shorter than this many bits are read one run at a time (numpy's fixed costs
#: would outweigh what it saves).
SHORT_BITS = 1 << 12
#: Fewer bits per run than this and the run headers are found by the vectorised walk.
DENSE_BITS = 128
#: Runs the one-at-a-time reader takes before it looks at the density again.
PROBE_RUNS = 256
_FIRST_BITS, _MOST_BITS = 1 << 13, 1 << 20  # bit positions per vectorised block
_BYTE_SHIFTS = np.arange(8, dtype=np.uint32)


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


class _Stream:
    """A stream's bytes and header, and where its runs start.

    A run's header (flag, field index, length) tells where the next run starts, so the
    starts form a chain from the first. Two ways along it, chosen by how dense the runs
    are: one run at a time (a few integer operations per run, for literal runs that jump
    far), or a block of bit positions at once: numpy works out, for *every* bit position
    of the block, where a run starting there would end (a dozen array operations on
    32-bit windows), then the chain is followed through that table (one list lookup per
    run). The second does more arithmetic but in numpy, not per run in Python: on masks of
    long runs (a header every 14-27 bits) it is several times faster.
    """

    def __init__(self, data: bytes, num: int, word_size: int, sizes: list[int]) -> None:
        self.data, self.num, self.word_size, self.sizes = data, num, word_size, sizes
        self.n_bits = len(data) * 8
        self.buf = data + bytes(8)
        # the 64 and the 32 bits from every byte offset, big-endian, without a copy
        self.view64 = np.ndarray((len(data) + 1,), dtype=">u8", buffer=self.buf, strides=(1,))
        self.view32 = np.ndarray((len(data),), dtype=">u4", buffer=self.buf, strides=(1,))
        # the four field sizes, 5 bits each, to pick with a shift
        self.packed = np.uint32(sum(s << (5 * k) for k, s in enumerate(sizes)))
        # per field index: shift to the run length (bit p at bit 63), its mask, header
        # bits, header and word bits
        self.fields = [(61 - s, (1 << s) - 1, 3 + s, 3 + s + word_size) for s in sizes]

    def starts(self) -> tuple[NDArray[np.int64], int, int]:
        """The bit positions where runs start until ``num`` values are written (or the
        data ends), the values written (``i``) and the bit after the last run (``p``)."""
        parts: list[NDArray[np.int64]] = []
        i, p = 0, _HEADER_BITS
        dense, span = self.n_bits >= SHORT_BITS, _FIRST_BITS
        while i < self.num and p < self.n_bits:
            if dense:
                found, examined, i, p = self._walk(p, i, span)
                dense = examined < DENSE_BITS * found.size
                span = min(span * 4, _MOST_BITS) if dense else _FIRST_BITS
            else:
                start = p
                found, i, p = self._one_by_one(p, i)
                dense = p - start < DENSE_BITS * found.size and self.n_bits - p >= SHORT_BITS
            parts.append(found)
        return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), i, p

    def _one_by_one(self, p: int, i: int) -> tuple[NDArray[np.int64], int, int]:
        """Up to :data:`PROBE_RUNS` runs from bit ``p``, read one at a time on 64-bit
        windows that numpy makes for a span of byte offsets at a time."""
        num, n_bits, fields, word_size = self.num, self.n_bits, self.fields, self.word_size
        found: list[int] = []
        windows: list[int] = []
        base = block = 0
        span = 256  # grows while headers follow each other, shrinks when literal runs jump on
        while i < num and p < n_bits and len(found) < PROBE_RUNS:
            k = (p >> 3) - base
            if k >= block:
                if block:
                    span = min(span * 4, 1 << 16) if k < block + 8 else max(span // 4, 16)
                base, k = p >> 3, 0
                windows = self.view64[base : base + span].tolist()
                block = len(windows)
            window = windows[k] << (p & 7)
            to_length, field, head, head_word = fields[(window >> 61) & 3]
            n = (window >> to_length) & field
            i += n + 1
            found.append(p)
            p += head_word if (window >> 63) & 1 else head + (n + 1) * word_size
        return np.asarray(found, dtype=np.int64), i, p

    def _walk(self, p: int, i: int, span: int) -> tuple[NDArray[np.int64], int, int, int]:
        """The runs from bit ``p`` that start in the next ``span`` bits, found through the
        table of every position's next run; also how many positions the table covered."""
        first = p >> 3
        windows = self.view32[first : first + (span >> 3)].astype(np.uint32)
        heads = (windows[:, None] << _BYTE_SHIFTS).ravel()  # bit q of the block at bit 31
        size = heads.size
        kind = heads >> np.uint32(29)  # flag and field index
        bits = (self.packed >> ((kind & np.uint32(3)) * np.uint32(5))) & np.uint32(31)
        ahead = (heads << np.uint32(3)) >> (np.uint32(32) - bits)  # the length field n
        ahead *= kind < 4  # literal runs: n + 1 words; repeat runs: one
        ahead += np.uint32(1)
        ahead *= np.uint32(self.word_size)
        ahead += bits
        ahead += np.arange(3, size + 3, dtype=np.uint32)  # now: where the next run starts
        table = memoryview(ahead)  # indexed from Python, it gives ints
        at = p - 8 * first
        local: list[int] = []
        while at < size:
            local.append(at)
            at = table[at]
        found = np.asarray(local, dtype=np.int64)
        # the values each run writes: n + 1 (repeat and literal alike)
        written = ((heads[found] << np.uint32(3)) >> (np.uint32(32) - bits[found])).astype(
            np.int64
        ) + 1
        totals = np.cumsum(written) + i
        if totals[-1] >= self.num:  # the last values: stop at the run that writes them
            last = int(np.searchsorted(totals, self.num))
            found, at = found[: last + 1], table[int(found[last])]
            totals = totals[: last + 1]
        return found + 8 * first, size, int(totals[-1]), at + 8 * first

    def runs(self, starts: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per run: its end (exclusive, in values) and its word, or ``-1 - `` the bit
        position of its first word for a literal run."""
        window = self.view64[starts >> 3].astype(np.uint64) << (starts & 7).astype(np.uint64)
        sizes = np.asarray(self.sizes, dtype=np.uint64)[(window >> np.uint64(61)) & np.uint64(3)]
        n = (window >> (np.uint64(61) - sizes)) & ((np.uint64(1) << sizes) - np.uint64(1))
        word_size = np.uint64(self.word_size)
        word = (window >> (np.uint64(61) - sizes - word_size)) & np.uint64(
            (1 << self.word_size) - 1
        )
        literal = (window >> np.uint64(63)) == 0
        ends = np.cumsum(n.astype(np.int64) + 1)
        words = np.where(literal, -1 - (starts + 3 + sizes.astype(np.int64)), word.astype(np.int64))
        return ends, words


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
    if len(data) * 8 < _HEADER_BITS:
        raise RegionError(f"brush RLE is {len(data)} bytes, shorter than its 7-byte header")
    head = int.from_bytes(data[:7], "big")
    num = head >> 24
    word_size = ((head >> 19) & 0x1F) + 1
    sizes = [((head >> (15 - 4 * k)) & 0xF) + 1 for k in range(4)]
    if height < 0 or width < 0 or num != height * width * 4:
        raise RegionError(
            f"brush RLE holds {num} values; a {height}x{width} RGBA mask has {height * width * 4}"
        )
    stream = _Stream(data, num, word_size, sizes)
    starts, i, p = stream.starts()
    if i < num or p > stream.n_bits:
        raise RegionError(
            f"brush RLE ends after {len(data)} bytes, inside its runs "
            f"({min(i, num)} of {num} values written)"
        )
    ends, words = stream.runs(starts)
    return _fill(stream.buf, ends, words, num, word_size).reshape(height, width)


def _fill(
    buf: bytes, ends: NDArray[np.int64], words: NDArray[np.int64], num: int, word_size: int
) -> NDArray[np.uint8]:
    """The alpha channel (every fourth value) of the runs: repeat runs spread with
    ``np.repeat``, the words of literal runs gathered by their bit positions."""
    is_literal = words < 0
    if ends.size and ends[-1] > num:  # the last run overshoots: a repeat run is cut
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
    return alpha


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
