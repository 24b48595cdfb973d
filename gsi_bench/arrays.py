"""Arrays that work in torch: the stored encodings (depth uint16 mm, instance maps uint16) turned into
dtypes torch handles well (``torch.uint16`` lacks ``max``, comparisons and ``unique``).

* :func:`depth_metres` — uint16 millimetres ``(H, W)`` → float32 metres ``(H, W)`` (0 = no hit stays 0,
  or NaN with ``invalid=nan``);
* :func:`instance_ids` — uint16 instance map ``(H, W)`` → int64 (or int32) ``(H, W)``;
* :func:`torch_transform` — a ``datasets`` transform (``ds.with_transform(torch_transform)``) giving
  torch tensors: images uint8 ``(3, H, W)``, masks bool ``(H, W)``, depth float32 metres ``(H, W)``,
  instances int64 ``(H, W)``; other columns pass through unchanged.

>>> import numpy as np
>>> depth_metres(np.array([[0, 1500]], np.uint16))
array([[0. , 1.5]], dtype=float32)
>>> instance_ids(np.array([[0, 65535]], np.uint16)).dtype
dtype('int64')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gsi_bench.schema import decode_image

DEPTH_COLUMNS = ("source_depth", "target_depth")
INSTANCE_COLUMNS = ("source_instances", "target_instances")
MASK_COLUMNS = ("source_mask", "target_mask")
RGB_COLUMNS = ("source_image", "target_image")


def depth_metres(depth_mm: Any, invalid: float = 0.0) -> np.ndarray:
    """float32 metres ``(H, W)`` from a uint16 millimetre depth map (array, PIL image or PNG cell);
    pixels with no hit (0 mm) get ``invalid``."""
    mm = depth_mm if isinstance(depth_mm, np.ndarray) else decode_image(depth_mm, "I;16")
    if mm.dtype != np.uint16:
        raise TypeError(f"depth map of dtype {mm.dtype}: expected uint16 millimetres")
    out = mm.astype(np.float32) / np.float32(1000.0)
    if invalid != 0.0:
        out[mm == 0] = invalid
    return out


def instance_ids(instances: Any, dtype: type = np.int64) -> np.ndarray:
    """int64 (or int32) ``(H, W)`` instance ids from a uint16 instance map (0 = background)."""
    if np.dtype(dtype) not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise ValueError(f"instance ids go to int32 or int64, not {np.dtype(dtype)}")
    ids = instances if isinstance(instances, np.ndarray) else decode_image(instances, "I;16")
    if ids.dtype != np.uint16:
        raise TypeError(f"instance map of dtype {ids.dtype}: expected uint16")
    return ids.astype(dtype)


def _convert(column: str, value: Any):
    import torch

    if column in DEPTH_COLUMNS:
        return torch.from_numpy(depth_metres(value))
    if column in INSTANCE_COLUMNS:
        return torch.from_numpy(instance_ids(value))
    if column in MASK_COLUMNS:
        return torch.from_numpy(decode_image(value, "L") > 0)
    if column in RGB_COLUMNS:
        return torch.from_numpy(np.ascontiguousarray(decode_image(value, "RGB").transpose(2, 0, 1)))
    return value


def torch_transform(batch: dict[str, list]) -> dict[str, list]:
    """Convert a batch (``{column: [values]}``, as ``datasets`` passes to ``with_transform``) to torch
    tensors (see the module doc); images stay undecoded until a row is accessed."""
    return {k: [_convert(k, v) for v in values] for k, values in batch.items()}
