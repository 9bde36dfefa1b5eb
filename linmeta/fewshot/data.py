"""Few-shot data without downloads (procedural glyphs) and loaders for data already on disk.

Every source yields class pools: ``uint8`` arrays ``(n_classes, n_per_class, H, W, C)`` split into
``train`` / ``val`` / ``test`` classes. Corrupt or missing data raises :class:`DataError` with a
one-line message.
"""

from __future__ import annotations

import os
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from linmeta.results import atomic_savez

GLYPH_VERSION = 1


class DataError(ValueError):
    """Missing or corrupt few-shot data (one-line message)."""


# ---------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """``$LINMETA_CACHE``, else ``$XDG_CACHE_HOME/linmeta``, else ``~/.cache/linmeta``."""
    env = os.environ.get("LINMETA_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "linmeta"


def atomic_save_npz(path: Path, **arrays) -> None:
    """Write ``arrays`` to ``path`` through a temporary file and ``os.replace``."""
    atomic_savez(path, arrays)


# ---------------------------------------------------------------------------- glyphs


def _class_strokes(rng: np.random.Generator) -> np.ndarray:
    """Random strokes of one class as segments ``(S, 2, 2)`` (start/end, row/col) in [0, 1]."""
    n_strokes = rng.choice([1, 2, 2, 3, 3, 4])
    segs = []
    for _ in range(n_strokes):
        n_pts = rng.integers(2, 5)
        p = rng.uniform(0.25, 0.75, size=2)
        ang = rng.uniform(0, 2 * np.pi)
        pts = [p]
        for _ in range(n_pts - 1):
            ang += rng.normal(0, 1.0)
            p = np.clip(p + rng.uniform(0.2, 0.45) * np.array([np.cos(ang), np.sin(ang)]),
                        0.15, 0.85)
            pts.append(p)
        pts = np.array(pts)
        if len(pts) > 2:  # one round of Chaikin corner cutting: smoother strokes
            q = 0.75 * pts[:-1] + 0.25 * pts[1:]
            r = 0.25 * pts[:-1] + 0.75 * pts[1:]
            pts = np.concatenate([pts[:1], np.stack([q, r], 1).reshape(-1, 2)[1:-1], pts[-1:]])
        segs.append(np.stack([pts[:-1], pts[1:]], axis=1))
    return np.concatenate(segs)


def _render(segs, widths, size):
    """Anti-aliased strokes: ``I = clip(w − d + ½, 0, 1)`` with ``d`` the pixel distance to the
    nearest segment; ``segs (n, S, 2, 2)`` (start/end, row/col) in pixel units, ``widths (n,)``."""
    g = np.arange(size, dtype=np.float32) + 0.5
    pr, pc = g[None, :, None, None], g[None, None, :, None]  # (1, H, 1, 1), (1, 1, W, 1)
    s = segs.astype(np.float32)
    ar, ac = s[:, None, None, :, 0, 0], s[:, None, None, :, 0, 1]  # (n, 1, 1, S)
    br, bc = s[:, None, None, :, 1, 0] - ar, s[:, None, None, :, 1, 1] - ac
    inv = 1.0 / np.maximum(br * br + bc * bc, 1e-6)
    apr, apc = pr - ar, pc - ac  # (n, H, 1, S), (n, 1, W, S)
    t = np.clip((apr * br + apc * bc) * inv, 0.0, 1.0)  # (n, H, W, S)
    rr, rc = apr - t * br, apc - t * bc
    d2 = (rr * rr + rc * rc).min(-1)  # (n, H, W)
    return np.clip(widths[:, None, None].astype(np.float32) - np.sqrt(d2) + 0.5, 0.0, 1.0)


def _glyph_class(seed: int, c: int, n_per_class: int, size: int) -> np.ndarray:
    """All samples of class ``c``: ``uint8 (n_per_class, size, size)``, a function of (seed, c)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(GLYPH_VERSION, c)))
    segs = _class_strokes(rng)
    n = n_per_class
    # per-sample jitter: control-point wobble, rotation, anisotropic scale, shear, translation
    pts = segs[None] + rng.normal(0, 0.012, size=(n,) + segs.shape)
    theta = rng.normal(0, 0.15, n)
    sc = rng.uniform(0.85, 1.1, (n, 2))
    sh = rng.normal(0, 0.12, n)
    cos, sin = np.cos(theta), np.sin(theta)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    shear = np.zeros((n, 2, 2))
    shear[:, 0, 0] = shear[:, 1, 1] = 1.0
    shear[:, 0, 1] = sh
    aff = rot @ shear * sc[:, None, :]
    shift = rng.normal(0, 0.04, (n, 2))
    pts = np.einsum("nij,nsej->nsei", aff, pts - 0.5) + 0.5 + shift[:, None, None, :]
    widths = rng.uniform(0.045, 0.085, n) * size
    img = _render(pts * size, widths, size)
    img = np.clip(img + rng.normal(0, 0.06, img.shape), 0.0, 1.0)
    return np.round(img * 255).astype(np.uint8)


@lru_cache(maxsize=4)
def glyphs(n_classes: int = 1623, n_per_class: int = 20, size: int = 28, seed: int = 0,
           cache: bool = True) -> np.ndarray:
    """Procedural handwritten-like glyphs: ``uint8 (n_classes, n_per_class, size, size, 1)``.

    Each class is 1–4 random smoothed strokes; each sample jitters the control points and applies
    a random affine map (rotation, scale, shear, shift), a random stroke width and pixel noise.
    Class ``c`` depends only on ``(seed, c)``. Results are kept in memory and, when ``cache``, in
    ``cache_dir()/glyphs-*.npz`` (a few tens of MB for the default 1,623 × 20 × 28 × 28).
    """
    if min(n_classes, n_per_class, size) < 1:
        raise ValueError("glyphs: n_classes, n_per_class and size must be >= 1")
    path = cache_dir() / f"glyphs-v{GLYPH_VERSION}-s{seed}-c{n_classes}-k{n_per_class}-{size}.npz"
    if cache and path.exists():
        try:
            with open(path, "rb") as fh, np.load(fh) as f:
                arr = f["images"]
            if arr.shape == (n_classes, n_per_class, size, size, 1):
                return arr
        except (OSError, ValueError, KeyError, EOFError):
            pass  # a broken cache file is regenerated below
    arr = np.stack([_glyph_class(seed, c, n_per_class, size) for c in range(n_classes)])[..., None]
    if cache:
        try:
            atomic_save_npz(path, images=arr)
        except OSError:
            pass  # an unwritable cache only costs time
    return arr


# ---------------------------------------------------------------------------- splits


def split_classes(n_classes: int, sizes, seed: int) -> dict:
    """Random disjoint class indices ``{'train', 'val', 'test'}`` of the given sizes."""
    n_train, n_val, n_test = sizes
    if min(sizes) < 0 or n_train + n_val + n_test > n_classes:
        raise DataError(f"class split {tuple(sizes)} does not fit {n_classes} classes")
    perm = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,))).permutation(
        n_classes)
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


# ---------------------------------------------------------------------------- image files


def _to_gray_or_rgb(img: np.ndarray, channels: int) -> np.ndarray:
    """Float image ``(H, W)`` or ``(H, W, c)`` in [0, 1] -> ``(H, W, channels)``."""
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 4:
        img = img[..., :3]
    if channels == 1 and img.shape[-1] == 3:
        img = img.mean(-1, keepdims=True)
    if channels == 3 and img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    return img


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``(H, W, C)`` to ``(size, size, C)`` (area average when shrinking by
    an integer factor first, so thin strokes do not vanish)."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return img
    f = min(h // size, w // size)
    if f > 1:
        img = img[: (h // f) * f, : (w // f) * f].reshape(h // f, f, w // f, f, -1).mean((1, 3))
        h, w = img.shape[:2]
    ri = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    ci = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    r0, c0 = np.floor(ri).astype(int), np.floor(ci).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (ri - r0)[:, None, None], (ci - c0)[None, :, None]
    top = img[r0][:, c0] * (1 - fc) + img[r0][:, c1] * fc
    bot = img[r1][:, c0] * (1 - fc) + img[r1][:, c1] * fc
    return top * (1 - fr) + bot * fr


def _read_image(path: Path, size: int, channels: int, invert: bool = False) -> np.ndarray:
    """One image file -> ``uint8 (size, size, channels)``."""
    try:
        if path.suffix.lower() == ".png":
            import matplotlib.image as mpimg

            img = np.asarray(mpimg.imread(path), dtype=np.float64)
            if img.dtype.kind in "ui" or img.max() > 1.0:
                img = img / 255.0
        else:
            from PIL import Image

            with Image.open(path) as im:
                img = np.asarray(im.convert("RGB" if channels == 3 else "L"), np.float64) / 255
    except ImportError as err:
        raise DataError(f"reading {path.suffix} images needs Pillow: {err}") from None
    except Exception as err:
        raise DataError(f"cannot read image {path}: {type(err).__name__}: {err}") from None
    img = _to_gray_or_rgb(img, channels)
    if invert:
        img = 1.0 - img
    img = _resize(img, size)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


_IMG_EXT = {".png", ".jpg", ".jpeg", ".bmp"}


def _stack_classes(classes: list, where: str) -> np.ndarray:
    """List of per-class ``(n_i, H, W, C)`` arrays -> ``(n_classes, min n_i, H, W, C)``."""
    if not classes:
        raise DataError(f"no classes found in {where}")
    n = min(len(c) for c in classes)
    if n < 2:
        raise DataError(f"every class needs at least 2 images; one in {where} has {n}")
    return np.stack([c[:n] for c in classes])


def load_omniglot(root, size: int = 28) -> np.ndarray:
    """Omniglot's layout ``root/images_{background,evaluation}/alphabet/character/*.png``.

    Strokes are dark on white in the files; they are inverted to 1 = ink and resized to
    ``size`` (Finn17: 28). Returns ``uint8 (n_characters, n_per_character, size, size, 1)`` with
    the characters of ``images_background`` first.
    """
    root = Path(root)
    parts = [root / "images_background", root / "images_evaluation"]
    if not any(p.is_dir() for p in parts):
        raise DataError(f"{root} has neither images_background/ nor images_evaluation/ "
                        "(the Omniglot layout)")
    classes = []
    for part in parts:
        if not part.is_dir():
            continue
        for alphabet in sorted(p for p in part.iterdir() if p.is_dir()):
            for char in sorted(p for p in alphabet.iterdir() if p.is_dir()):
                files = sorted(f for f in char.iterdir() if f.suffix.lower() == ".png")
                if files:
                    classes.append(np.stack([_read_image(f, size, 1, invert=True)
                                             for f in files]))
    return _stack_classes(classes, str(root))


def _load_class_folders(root: Path, size: int, channels: int) -> np.ndarray:
    classes = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in _IMG_EXT)
        if files:
            classes.append(np.stack([_read_image(f, size, channels) for f in files]))
    return _stack_classes(classes, str(root))


def _load_mini_pickle(path: Path, size: int) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f)  # noqa: S301 - the user's own data file
        images, class_dict = np.asarray(d["image_data"]), d["class_dict"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            AttributeError) as err:
        raise DataError(f"cannot read mini-ImageNet pickle {path}: {type(err).__name__}: {err}"
                        ) from None
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"{path}: image_data must be (n, H, W, 3), got {images.shape}")
    classes = []
    for name in sorted(class_dict):
        idx = np.asarray(class_dict[name], dtype=int)
        if idx.size == 0 or idx.max() >= len(images) or idx.min() < 0:
            raise DataError(f"{path}: class {name!r} indexes outside image_data")
        imgs = images[idx]
        if imgs.shape[1:3] != (size, size):
            imgs = np.stack([np.round(_resize(im / 255.0, size) * 255) for im in imgs])
        classes.append(imgs.astype(np.uint8))
    return _stack_classes(classes, str(path))


def load_mini_imagenet(root, size: int = 84) -> dict:
    """mini-ImageNet as ``root/mini-imagenet-cache-{train,val,test}.pkl`` (dicts with
    ``image_data`` uint8 ``(n, 84, 84, 3)`` and ``class_dict`` name -> indices) or as class
    folders ``root/{train,val,test}/<class>/*.jpg``. Returns ``{split: uint8 (n_cls, n, s, s, 3)}``.
    """
    root = Path(root)
    out = {}
    for split in ("train", "val", "test"):
        pkl = root / f"mini-imagenet-cache-{split}.pkl"
        if pkl.is_file():
            out[split] = _load_mini_pickle(pkl, size)
        elif (root / split).is_dir():
            out[split] = _load_class_folders(root / split, size, 3)
    if set(out) != {"train", "val", "test"}:
        missing = sorted({"train", "val", "test"} - set(out))
        raise DataError(f"{root} lacks mini-ImageNet splits {missing}"
                        " (mini-imagenet-cache-<split>.pkl or <split>/<class>/ folders)")
    return out


def load_npz(path) -> np.ndarray:
    """A ``.npz`` with ``images`` ``(n, H, W)`` or ``(n, H, W, C)`` (uint8 0–255 or float 0–1) and
    integer ``labels`` ``(n,)``. Returns ``uint8 (n_classes, min count, H, W, C)``."""
    path = Path(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except KeyError as err:
        raise DataError(f"{path} must contain arrays 'images' and 'labels' (missing {err})"
                        ) from None
    except Exception as err:
        raise DataError(f"cannot read {path}: {type(err).__name__}: {err}") from None
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{path}: need images (n, H, W[, C]) and labels (n,), got "
                        f"{images.shape} and {labels.shape}")
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise DataError(f"{path}: images contain NaN or inf")
        images = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    else:
        images = images.astype(np.uint8)
    classes = [images[labels == c] for c in np.unique(labels)]
    return _stack_classes(classes, str(path))


# ---------------------------------------------------------------------------- front door

DATASETS = ("glyphs", "omniglot", "miniimagenet", "npz")


def load_dataset(name: str = "glyphs", path=None, *, seed: int = 0, image_size=None,
                 n_classes: int = 1623, split=None, data_seed: int = 0, n_way: int = 5,
                 cache: bool = True) -> dict:
    """Class pools ``{'train', 'val', 'test'}: uint8 (n_cls, n_per, H, W, C)`` for a source.

    ``glyphs`` (default, no files needed), ``omniglot`` and ``npz`` are split by ``seed`` into
    ``split`` = (train, val, test) class counts (default :func:`default_split`); mini-ImageNet
    keeps its own train/val/test classes. ``data_seed`` and ``n_classes`` select the glyphs.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name != "glyphs" and path is None:
        raise DataError(f"dataset {name!r} needs a path (--data-path)")
    if name == "miniimagenet":
        return load_mini_imagenet(path, image_size or 84)
    if name == "glyphs":
        arr = glyphs(n_classes, 20, image_size or 28, seed=data_seed, cache=cache)
    elif name == "omniglot":
        arr = load_omniglot(path, image_size or 28)
    else:
        arr = load_npz(path)
    idx = split_classes(len(arr), split or default_split(len(arr), n_way), seed)
    return {k: arr[v] for k, v in idx.items()}
