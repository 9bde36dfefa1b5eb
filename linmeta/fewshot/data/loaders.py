"""Few-shot images already on disk: Omniglot folders, mini-ImageNet (pickles or folders), and
an ``.npz`` of images and labels.

Each loader returns ``uint8`` class pools ``(n_classes, n_per_class, H, W, C)``; missing or
corrupt data raises :class:`~linmeta.errors.DataError` with a one-line message.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from linmeta.errors import DataError

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
