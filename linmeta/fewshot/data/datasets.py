"""The few-shot data sets by name: the generated glyph sets and the loaders of files on disk,
split into ``train`` / ``val`` / ``test`` classes.

Every source yields class pools: ``uint8`` arrays ``(n_classes, n_per_class, H, W, C)`` split
by a ``split_seed`` that does not depend on the run's seed. Corrupt or missing data raises
:class:`~linmeta.errors.DataError` with a one-line message.
"""

from __future__ import annotations

import numpy as np

from linmeta.errors import DataError

from .episodes import stream
from .glyphs import glyphs, omniglyph_alphabets, omniglyphs
from .loaders import load_mini_imagenet, load_npz, load_omniglot

# ---------------------------------------------------------------------------- splits


def split_classes(n_classes: int, sizes, seed: int) -> dict:
    """Random disjoint class indices ``{'train', 'val', 'test'}`` of the given sizes."""
    n_train, n_val, n_test = sizes
    if min(sizes) < 0 or n_train + n_val + n_test > n_classes:
        raise DataError(f"class split {tuple(sizes)} does not fit {n_classes} classes")
    perm = stream(seed, "split").permutation(n_classes)
    return {
        "train": np.sort(perm[:n_train]),
        "val": np.sort(perm[n_train : n_train + n_val]),
        "test": np.sort(perm[n_train + n_val : n_train + n_val + n_test]),
    }


def default_split(n_classes: int, n_way: int = 5) -> tuple:
    """Finn17's Omniglot split: 1200 meta-train classes (100 of them held out for validation)
    and 423 test classes; for other sizes ≈ 68 / 6 / 26 %, at least ``n_way`` in each split."""
    if n_classes == 1623:
        return (1100, 100, 423)
    n_val = max(n_way, round(0.06 * n_classes))
    n_test = max(n_way, round(0.26 * n_classes))
    n_train = n_classes - n_val - n_test
    if n_train < n_way:
        raise DataError(f"{n_classes} classes are too few for {n_way}-way train/val/test splits")
    return (n_train, n_val, n_test)


# ---------------------------------------------------------------------------- front door

DATASETS = ("glyphs", "omniglyphs", "omniglot", "miniimagenet", "npz")
GENERATED = ("glyphs", "omniglyphs")  # made here, no files needed


class ClassPools(dict):
    """``{'train', 'val', 'test'}: uint8 (n_cls, n_per, H, W, C)`` with the class split that
    made them in ``.split`` (JSON-ready: source class indices per split, ``split_seed``,
    ``rotations`` and, for omniglyphs, each class's alphabet)."""

    def __init__(self, pools: dict, split: dict):
        super().__init__(pools)
        self.split = split


def rotate_classes(pool: np.ndarray) -> np.ndarray:
    """Rotations by 0, 90, 180 and 270° as new classes (Finn17): ``(n, k, H, H, C)`` ->
    ``(4n, k, H, H, C)``, class ``4c + r`` being class ``c`` turned by ``r`` quarter turns."""
    if pool.shape[2] != pool.shape[3]:
        raise DataError(f"rotations need square images, got {pool.shape[2]}x{pool.shape[3]}")
    turned = np.stack([np.rot90(pool, r, axes=(2, 3)) for r in range(4)], axis=1)
    return turned.reshape((-1,) + pool.shape[1:])


def load_dataset(name: str = "glyphs", path=None, *, split_seed: int = 0, image_size=None,
                 n_classes: int = 1623, split=None, data_seed: int = 0, n_way: int = 5,
                 rotations: bool = False, invert: bool = False,
                 cache: bool = True) -> ClassPools:
    """Class pools ``{'train', 'val', 'test'}: uint8 (n_cls, n_per, H, W, C)`` for a source.

    ``glyphs`` (default, no files needed), ``omniglyphs`` (Omniglot-sized, in alphabets),
    ``omniglot`` and ``npz`` are split into ``split`` = (train, val, test) class counts
    (default :func:`default_split`) by ``split_seed`` alone, so every run seed sees the same
    classes; mini-ImageNet keeps its own train/val/test classes. ``data_seed`` and
    ``n_classes`` select the generated sets. With ``rotations``, every class also appears
    turned by 90, 180 and 270° as three new classes in the same split (:func:`rotate_classes`),
    which multiplies the class counts by 4. ``invert`` gives every pixel as ``255 − value``
    (the generated sets and the loaders give ink 255 on 0; Kao22 train on Omniglot's dark
    strokes on white). The split is in the result's ``.split``.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name not in GENERATED and path is None:
        raise DataError(f"dataset {name!r} needs a path (--data-path)")
    def transform(pool):  # rotations, then inversion
        pool = rotate_classes(pool) if rotations else pool
        return 255 - pool if invert else pool

    record = {"dataset": name, "split_seed": split_seed, "rotations": rotations}
    if name == "miniimagenet":
        pools = load_mini_imagenet(path, image_size or 84)
        record.update(split_seed=None, classes="mini-ImageNet's own train/val/test files")
        return ClassPools({k: transform(v) for k, v in pools.items()}, record)
    alphabet = None
    if name == "glyphs":
        arr = glyphs(n_classes, 20, image_size or 28, seed=data_seed, cache=cache)
    elif name == "omniglyphs":
        arr = omniglyphs(n_classes, 20, image_size or 28, seed=data_seed, cache=cache)
        alphabet = omniglyph_alphabets(n_classes, seed=data_seed)
    elif name == "omniglot":
        arr = load_omniglot(path, image_size or 28)
    else:
        arr = load_npz(path)
    idx = split_classes(len(arr), split or default_split(len(arr), n_way), split_seed)
    record["classes"] = {k: v.tolist() for k, v in idx.items()}
    if alphabet is not None:
        record["alphabets"] = {k: alphabet[v].tolist() for k, v in idx.items()}
    return ClassPools({k: transform(arr[v]) for k, v in idx.items()}, record)
