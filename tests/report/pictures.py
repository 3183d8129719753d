"""Looking at a PNG the way a person would: is there a picture, or a blank rectangle?"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib import image


def pixels(png: bytes | Path) -> np.ndarray:
    """The picture as an array of RGB(A) floats in [0, 1], height first."""
    data = png.read_bytes() if isinstance(png, Path) else png
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG file"
    return image.imread(io.BytesIO(data), format="png")


def assert_picture(png: bytes | Path, *, min_width: int = 200, min_height: int = 150) -> np.ndarray:
    """A PNG of at least this size that shows something: many distinct colours, not one."""
    array = pixels(png)
    height, width = array.shape[:2]
    assert width >= min_width and height >= min_height, f"picture of {width}x{height} pixels is too small"
    colours = distinct_colours(array)
    assert colours > 8, f"the picture is (nearly) uniform: {colours} colours"
    return array


def distinct_colours(array: np.ndarray) -> int:
    """How many RGB colours the picture uses (each pixel packed into one integer: fast)."""
    rgb = np.round(array[..., :3] * 255).astype(np.uint32)
    return len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))


def coloured_fraction(array: np.ndarray) -> float:
    """The share of pixels that are clearly coloured (not white, grey or black): chart lines and
    bars are, while text and rules are not."""
    rgb = array[..., :3]
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    return float((saturation > 0.3).mean())
