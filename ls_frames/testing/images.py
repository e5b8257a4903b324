"""Small real images for demos, tests and benchmarks, with no imaging library.

:func:`png_bytes` encodes a ``uint8`` array as a PNG with the standard library's ``zlib``;
:func:`demo_image` draws a reproducible picture (a gradient and a few boxes) and
:func:`noise_image` one of a given size whose bytes do not compress, for benchmarks.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

__all__ = ["demo_image", "noise_png", "png_bytes"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(pixels: npt.NDArray[np.uint8], *, level: int = 6) -> bytes:
    """Encode ``pixels`` (``H x W`` grey, ``H x W x 3`` RGB or ``H x W x 4`` RGBA) as PNG.

    Parameters
    ----------
    pixels
        The image, ``uint8``.
    level
        zlib's compression level (0-9).

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    ValueError
        The array is not ``uint8`` or has another shape.
    """
    if pixels.dtype != np.uint8:
        raise ValueError(f"png_bytes needs a uint8 array, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4) or 0 in pixels.shape:
        raise ValueError(f"png_bytes needs H x W, H x W x 3 or H x W x 4, got {pixels.shape}")
    height, width, channels = pixels.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    # Filter type 0 (None) in front of every row.
    rows = np.concatenate(
        [np.zeros((height, 1), np.uint8), np.ascontiguousarray(pixels).reshape(height, -1)],
        axis=1,
    )
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def demo_image(index: int, width: int = 160, height: int = 120) -> bytes:
    """A reproducible RGB picture for demo task ``index``: a gradient and two boxes."""
    rng = np.random.default_rng(index)
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, size=3)
    image = np.empty((height, width, 3), np.uint8)
    for c in range(3):
        image[:, :, c] = (base[c] + (x // 8) * (c + 1) * 4 + (y // 8) * (3 - c) * 4) % 256
    for k in range(2):
        x0, y0 = int(width * (0.05 + 0.1 * k)), int(height * (0.1 + 0.05 * k))
        w, h = int(width * 0.2), int(height * 0.255)
        image[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, size=3)
    return png_bytes(image)


def noise_png(index: int, size: int = 100_000) -> bytes:
    """A PNG of random RGB pixels of about ``size`` bytes (noise does not compress)."""
    side = max(1, int((size / 3) ** 0.5))
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    return png_bytes(pixels, level=1)
