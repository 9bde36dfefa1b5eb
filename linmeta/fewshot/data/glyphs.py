"""Few-shot images made here, without downloads: the procedural glyph sets.

Two generated sets, both ``uint8`` class pools ``(n_classes, n_per_class, H, W, 1)``:
``glyphs`` (random strokes, for quick runs) and ``omniglyphs`` (Omniglot's size, 1,623
characters in 50 alphabets of shared stroke style). Both are cached on disk
(:func:`cache_dir`) under a version number, so a change of the generator cannot be mixed with
older files.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from linmeta.io import atomic_savez

GLYPH_VERSION = 1


# ---------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """``$LINMETA_CACHE``, else ``$XDG_CACHE_HOME/linmeta``, else ``~/.cache/linmeta``."""
    env = os.environ.get("LINMETA_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "linmeta"


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
    return _cached_images(path, (n_classes, n_per_class, size, size, 1), cache, lambda: np.stack(
        [_glyph_class(seed, c, n_per_class, size) for c in range(n_classes)])[..., None])


def _cached_images(path: Path, shape: tuple, cache: bool, make) -> np.ndarray:
    """The ``uint8`` images of shape ``shape`` in the cache file ``path``, else ``make()``
    (written to ``path`` when ``cache``). A broken or mismatched file is regenerated, and an
    unwritable cache only costs time."""
    if cache and path.exists():
        try:
            with open(path, "rb") as fh, np.load(fh) as f:
                arr = f["images"]
            if arr.shape == shape and arr.dtype == np.uint8:
                return arr
        except (OSError, ValueError, KeyError, EOFError):
            pass
    arr = make()
    if cache:
        try:
            atomic_savez(path, {"images": arr})
        except OSError:
            pass
    return arr


# ---------------------------------------------------------------------------- omniglyphs

OMNIGLYPH_VERSION = 1  # the random draws (a key of every stream): the characters themselves
#: How the drawn characters become pixels. Revision 1 summed the ink in float32 through BLAS,
#: whose rounding depends on the BLAS thread count and machine: on one machine, builds with 1
#: and 2 threads differed in 3 of the 1,623 classes (1.2e-7 of the pixels, one grey level each).
#: Revision 2 sums in float64, so the pixels are the same wherever they are built.
OMNIGLYPH_RENDER = 2
_TAU = 2 * np.pi


class _Style(NamedTuple):
    """What the characters of one alphabet share (lengths in units of the image side)."""

    turn_step: float  # turns between segments are multiples of this (0: any angle), radians
    bends: np.ndarray  # how far one segment turns along its length (0: straight), radians
    n_strokes: tuple  # (lo, hi) strokes per character
    n_segs: tuple  # (lo, hi) segments per new stroke
    seg_len: tuple  # (lo, hi) segment length
    smooth: int  # rounds of corner cutting
    anchors: np.ndarray  # (A, 2) points (x, y) where strokes start
    prims: list  # strokes (m, 2), relative to their start, that characters reuse
    p_prim: float  # chance that a stroke is one of ``prims``
    radicals: list  # groups of placed strokes that characters start from
    p_radical: float
    p_join: float  # chance that a stroke starts on an earlier stroke of the character
    size: float  # longest side of a character
    shear: float  # slant
    aspect: float  # width / height
    width: tuple  # (lo, hi) pen σ in pixels at 28 px
    decor: int  # 0 none, 1 head bar, 2 dot, 3 ring, 4 tick
    decor_at: np.ndarray  # (2,) where the dot / ring / tick sits, relative to the bounding box
    p_decor: float


def _turtle(rng: np.random.Generator, st: _Style, start) -> np.ndarray:
    """One new stroke ``(m, 2)``: segments of the alphabet's lengths, each straight or an arc of
    one of its bends, joined by turns that are multiples of its turn step."""
    n = rng.integers(st.n_segs[0], st.n_segs[1] + 1)
    if st.turn_step:
        h = rng.integers(0, round(_TAU / st.turn_step)) * st.turn_step
        k_max = int((np.pi - 1e-6) // st.turn_step)  # no turn back onto the same segment
    else:
        h = rng.uniform(0, _TAU)
    p = np.asarray(start, dtype=np.float64)
    pts = [p]
    for i in range(n):
        if i:
            turn = (rng.integers(1, k_max + 1) * st.turn_step if st.turn_step
                    else rng.uniform(0.4, 2.6))
            h += rng.choice([-1.0, 1.0]) * turn
        length, bend = rng.uniform(*st.seg_len), rng.choice(st.bends)
        m = 1 if bend == 0 else max(2, int(np.ceil(abs(bend) / 0.5)))  # an arc as m chords
        for j in range(m):
            hm = h + bend * (j + 0.5) / m
            p = p + length / m * np.array([np.cos(hm), np.sin(hm)])
            pts.append(p)
        h += bend
    return np.array(pts)


def _alphabet_style(rng: np.random.Generator) -> _Style:
    """A random alphabet: stroke vocabulary, angles, curvature, stroke counts, pen, slant."""
    turn_step = rng.choice([np.pi / 2, np.pi / 4, np.pi / 3, np.pi / 6, 0.0],
                           p=[0.25, 0.2, 0.15, 0.1, 0.3])
    kappa = rng.choice([0.0, np.pi / 2, np.pi, 1.5 * np.pi], p=[0.3, 0.35, 0.25, 0.1])
    n_straight = 10 if kappa == 0 else int(rng.integers(2, 9))
    bends = np.array([0.0] * n_straight + [kappa, -kappa] * ((11 - n_straight) // 2))
    curly = kappa >= np.pi  # loops: fewer segments and a finer pen, or they blot
    base = rng.uniform(0.3, 0.45) if curly else rng.uniform(0.18, 0.4)
    lo = int(rng.integers(1, 3))
    n_anchors = rng.integers(2, 6)
    if rng.random() < 0.5:  # on a 3 × 3 grid, or anywhere
        grid = np.stack(np.meshgrid([0.2, 0.5, 0.8], [0.2, 0.5, 0.8]), -1).reshape(-1, 2)
        anchors = grid[rng.choice(9, n_anchors, replace=False)]
    else:
        anchors = rng.uniform(0.15, 0.85, (n_anchors, 2))
    pen = rng.uniform(0.38, 0.55) if curly else rng.uniform(0.38, 0.85)
    hi = min(3 if curly else 4, lo + int(rng.integers(0, 3)))
    st = _Style(
        turn_step=float(turn_step), bends=bends, n_strokes=(lo, hi),
        n_segs=(1, int(rng.integers(1, 3 if curly else 4))), seg_len=(0.6 * base, 1.3 * base),
        smooth=int(rng.integers(0, 2) if kappa == 0 else rng.integers(2, 4)), anchors=anchors,
        prims=[], p_prim=rng.uniform(0.75, 0.98), radicals=[], p_radical=rng.uniform(0.8, 1.0),
        p_join=rng.uniform(0.55, 0.9), size=rng.uniform(0.5, 0.75), shear=rng.normal(0, 0.25),
        aspect=np.exp(rng.normal(0, 0.2)), width=(0.88 * pen, 1.12 * pen),
        decor=int(rng.choice([0, 0, 1, 2, 3, 4])), decor_at=rng.uniform(0, 1, 2),
        p_decor=rng.uniform(0.4, 0.9))
    prims = [_turtle(rng, st, np.zeros(2)) for _ in range(rng.integers(2, 5))]
    radicals = [[_turtle(rng, st, anchors[rng.integers(n_anchors)])
                 for _ in range(rng.integers(1, 3))] for _ in range(rng.integers(1, 3))]
    return st._replace(prims=prims, radicals=radicals)


def _character(rng: np.random.Generator, st: _Style) -> list:
    """One character of alphabet ``st``: a list of strokes ``(m, 2)`` (x, y) in [0, 1]."""
    strokes = []
    n = rng.integers(st.n_strokes[0], st.n_strokes[1] + 1)
    if rng.random() < st.p_radical:
        strokes = list(st.radicals[rng.integers(len(st.radicals))])
        n = max(1, n - len(strokes))
    for _ in range(n):
        if strokes and rng.random() < st.p_join:
            prev = strokes[rng.integers(len(strokes))]
            start = prev[rng.choice([0, len(prev) - 1, len(prev) // 2])]
        else:
            start = st.anchors[rng.integers(len(st.anchors))]
        if rng.random() < st.p_prim:
            strokes.append(start + st.prims[rng.integers(len(st.prims))])
        else:
            strokes.append(_turtle(rng, st, start))
    for _ in range(3):
        pts = np.concatenate(strokes)
        extent = (pts.max(0) - pts.min(0)).max()
        lengths = [np.hypot(*np.diff(s, axis=0).T).sum() for s in strokes]
        # strokes far shorter than the character would be blots once it is scaled
        keep = min(0.2 * extent, max(lengths))
        strokes = [s for s, ln in zip(strokes, lengths, strict=True) if ln >= keep]
        if (sum(len(s) - 1 for s in strokes) >= 3
                and sum(ln for ln in lengths if ln >= keep) >= 1.5 * extent):
            break
        # too little ink for its size: one more stroke from the last one's end
        strokes.append(_turtle(rng, st, strokes[-1][-1]))
    a = np.sqrt(st.aspect)
    lin = np.array([[a, st.shear / a], [0.0, 1 / a]])  # slant and stretch (x, y)
    strokes = [s @ lin.T for s in strokes]
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    scale = st.size / max((hi - lo).max(), 0.05)
    strokes = [(s - (lo + hi) / 2) * scale for s in strokes]  # centred at 0
    if st.decor and rng.random() < st.p_decor:
        lo, hi = (lo - (lo + hi) / 2) * scale, (hi - (lo + hi) / 2) * scale
        if st.decor == 1:  # a bar over the character
            strokes.append(np.array([[lo[0] - 0.04, lo[1]], [hi[0] + 0.04, lo[1]]]))
        else:
            c = lo + st.decor_at * (hi - lo)
            c = np.where(st.decor_at > 0.5, c + 0.06, c - 0.06)
            if st.decor == 2:  # a dot
                strokes.append(np.array([c, c + 0.012]))
            elif st.decor == 3:  # a small ring
                t = np.linspace(0, _TAU, 9)
                strokes.append(c + 0.05 * np.stack([np.cos(t), np.sin(t)], -1))
            else:  # a short tick
                strokes.append(np.array([c - [0.05, 0.0], c + [0.05, 0.03]]))
    return [s + 0.5 for s in strokes]


def _chaikin(p: np.ndarray, rounds: int) -> np.ndarray:
    """Chaikin corner cutting of polylines ``p (..., m)`` (points along the last axis), end
    points kept."""
    for _ in range(rounds):
        if p.shape[-1] < 3:
            break
        q, r = 0.75 * p[..., :-1] + 0.25 * p[..., 1:], 0.25 * p[..., :-1] + 0.75 * p[..., 1:]
        mid = np.stack([q, r], -1).reshape(*p.shape[:-1], -1)[..., 1:-1]
        p = np.concatenate([p[..., :1], mid, p[..., -1:]], -1)
    return p


def _densify(p: np.ndarray, k: int) -> np.ndarray:
    """``k`` evenly spaced points per segment of ``p (..., m)`` -> ``(..., (m−1)k + 1)``."""
    t = np.arange(k) / k
    seg = p[..., :-1, None] * (1 - t) + p[..., 1:, None] * t
    return np.concatenate([seg.reshape(*p.shape[:-1], -1), p[..., -1:]], -1)


def _draw(rng: np.random.Generator, strokes: list, st: _Style, n: int, size: int) -> np.ndarray:
    """``n`` handwritten copies of one character: ``uint8 (n, size, size)``.

    Each copy jitters the control points and each stroke's position, smooths, then applies its
    own smooth warp (four random plane waves), affine map (rotation, scale, shear, shift) and
    pen width. Ink is a pen of Gaussian
    profile σ drawn along the strokes, ``I(u) = 1 − exp(−g ∫ N(u; p(s), σ²) ds)``, so crossings
    saturate and stroke ends taper. The integral is a sum over points ``p_i`` about 0.4 pixel
    apart with arc-length weights ``w_i``; the Gaussian factorises over rows and columns, so
    the image is one small matrix product per copy, ``Gᵧᵀ diag(w) Gₓ``.
    """
    parts, weights = [], []
    for s in strokes:  # coordinates first: (n, 2, m)
        ctrl = s.T[None] + rng.normal(0, 0.015, (n,) + s.T.shape) + rng.normal(0, 0.03, (n, 2, 1))
        smooth = _chaikin(ctrl, st.smooth)
        d = np.diff(smooth.mean(0), axis=-1)
        pts = _densify(smooth, max(1, int(np.ceil(np.hypot(*d).max() * size * 2.5))))
        d = np.diff(pts, axis=-1)
        ds = np.hypot(d[:, 0], d[:, 1])  # (n, P − 1)
        w = np.zeros((n, pts.shape[-1]))
        w[:, 1:] += ds / 2
        w[:, :-1] += ds / 2
        parts.append(pts)
        weights.append(w)
    pts, w = np.concatenate(parts, -1), np.concatenate(weights, -1)  # (n, 2, P), (n, P)
    # a smooth random warp, as one hand's proportions differ from another's: four plane waves
    freq, phase = rng.normal(0, 6.0, (n, 4, 2)), rng.uniform(0, _TAU, (n, 4, 1))
    amp = rng.normal(0, 0.025, (n, 2, 4))
    pts = pts + amp @ np.sin(freq @ pts + phase)
    theta, shear = rng.normal(0, 0.12, n), rng.normal(0, 0.08, n)
    scale = rng.uniform(0.9, 1.08, (n, 1)) * np.exp(rng.normal(0, 0.05, (n, 2)))
    cos, sin = np.cos(theta), np.sin(theta)
    aff = np.stack([np.stack([cos, cos * shear - sin], -1),
                    np.stack([sin, sin * shear + cos], -1)], -2)
    aff = aff * scale[:, None, :]  # rotation · shear · scale, (n, 2, 2)
    pts = aff @ (pts - 0.5) + 0.5 + rng.normal(0, 0.04, (n, 2, 1))
    sigma = rng.uniform(*st.width, (n, 1, 1)) * size / 28
    # keep the ink in the frame [a, 1 − a]: shrink what is too large, shift what sticks out
    a = (2 * sigma + 0.5) / size  # (n, 1, 1)
    lo, hi = pts.min(-1, keepdims=True), pts.max(-1, keepdims=True)  # (n, 2, 1)
    mid = (lo + hi) / 2
    pts = (pts - mid) * np.minimum(1, (1 - 2 * a) / (hi - lo).max(1, keepdims=True)) + mid
    lo, hi = pts.min(-1, keepdims=True), pts.max(-1, keepdims=True)
    pts = pts + np.clip(0, a - lo, 1 - a - hi)
    gain = rng.uniform(2.0, 3.0, (n, 1))
    # float64 throughout (OMNIGLYPH_RENDER): a float32 product's rounding depends on how BLAS
    # splits the sum, which moved a few pixels across a grey level between thread counts
    px = pts * size - 0.5  # pixel j's centre at j
    grid = np.arange(size, dtype=np.float64)
    inv = 0.5 / sigma**2
    gx = np.exp(-np.square(px[:, 0, :, None] - grid) * inv)  # (n, P, W)
    gy = np.exp(-np.square(px[:, 1, :, None] - grid) * inv)  # (n, P, H)
    wi = gain * w * size / (sigma[..., 0] * np.sqrt(_TAU))  # (n, P)
    ink = 1 - np.exp(-((gy * wi[..., None]).transpose(0, 2, 1) @ gx))  # (n, H, W)
    return np.round(ink * 255).astype(np.uint8)


def omniglyph_alphabets(n_classes: int = 1623, n_alphabets: int | None = None,
                        seed: int = 0) -> np.ndarray:
    """Alphabet of each class, ``int (n_classes,)``: consecutive runs, as in Omniglot.

    ``n_alphabets`` defaults to 50 per 1,623 classes (at least 1); alphabet sizes are drawn
    proportional to U(14, 55), Omniglot's range of characters per alphabet.
    """
    if n_alphabets is None:
        n_alphabets = max(1, min(50, round(n_classes * 50 / 1623)))
    if not 1 <= n_alphabets <= n_classes:
        raise ValueError(f"omniglyphs: need 1 <= n_alphabets <= n_classes, got {n_alphabets} "
                         f"alphabets for {n_classes} classes")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(OMNIGLYPH_VERSION, 0)))
    share = rng.uniform(14, 55, n_alphabets)
    sizes = np.maximum(1, np.floor(share / share.sum() * n_classes).astype(int))
    order = np.argsort(-share)
    while sizes.sum() != n_classes:  # hand the remainder to (or take it from) the largest
        fix = 1 if sizes.sum() < n_classes else -1
        for a in order:
            if sizes.sum() != n_classes and sizes[a] + fix >= 1:
                sizes[a] += fix
    return np.repeat(np.arange(n_alphabets), sizes)


@lru_cache(maxsize=4)
def omniglyphs(n_classes: int = 1623, n_per_class: int = 20, size: int = 28, seed: int = 0,
               n_alphabets: int | None = None, cache: bool = True) -> np.ndarray:
    """An Omniglot-sized set of procedural handwritten characters in alphabets:
    ``uint8 (n_classes, n_per_class, size, size, 1)``, ink = 255.

    Classes come in alphabets (:func:`omniglyph_alphabets`). An alphabet fixes a stroke style:
    turn angles (multiples of 90°, 45°, 60°, 30°, or free), curvature, strokes per character,
    segment lengths, smoothing, a vocabulary of strokes and stroke groups that its characters
    reuse, pen width, size, slant, aspect and a diacritic (bar, dot, ring, tick). So characters
    of one alphabet look alike, as in Omniglot. Every example is drawn with its own control-point
    jitter, warp, affine map and pen width (:func:`_draw`). Pixel-space 1-shot 5-way nearest
    neighbour (:func:`nn_accuracy`) on the default set: 0.50 within an alphabet, 0.59 across.
    Deterministic in the arguments; kept in memory and, when ``cache``, in
    ``cache_dir()/omniglyphs-v*.npz``.
    """
    if min(n_classes, n_per_class, size) < 1:
        raise ValueError("omniglyphs: n_classes, n_per_class and size must be >= 1")
    alphabet = omniglyph_alphabets(n_classes, n_alphabets, seed)
    path = cache_dir() / (f"omniglyphs-v{OMNIGLYPH_VERSION}r{OMNIGLYPH_RENDER}-s{seed}"
                          f"-c{n_classes}-a{alphabet[-1] + 1}-k{n_per_class}-{size}.npz")
    shape = (n_classes, n_per_class, size, size, 1)

    def make():
        styles = [_omniglyph_style(seed, a) for a in range(alphabet[-1] + 1)]
        arr = np.empty(shape, np.uint8)
        for c, a in enumerate(alphabet):
            arr[c, ..., 0] = _omniglyph_class(seed, c, styles[a], n_per_class, size)
        return arr

    return _cached_images(path, shape, cache, make)


def _omniglyph_style(seed: int, a: int) -> _Style:
    """The style of alphabet ``a``, a function of ``(seed, a)``."""
    return _alphabet_style(np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(OMNIGLYPH_VERSION, 1, a))))


def _omniglyph_class(seed: int, c: int, style: _Style, n_per_class: int,
                     size: int) -> np.ndarray:
    """All examples of class ``c`` in alphabet style ``style``: ``uint8 (n_per_class, size,
    size)``, a function of ``(seed, c, style)``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(OMNIGLYPH_VERSION, 2, c)))
    return _draw(rng, _character(rng, style), style, n_per_class, size)


def nn_accuracy(images: np.ndarray, alphabet=None, *, n_way: int = 5, tasks: int = 1000,
                seed: int = 0) -> float:
    """Pixel-space 1-shot nearest-neighbour accuracy on ``n_way`` tasks of ``images``
    ``(n_classes, n_per_class, ...)``: one support and one query per class, query labelled by
    the nearest support in Euclidean distance. With ``alphabet`` (``(n_classes,)``), every
    task's classes come from one alphabet (drawn uniformly among those with ``n_way`` classes
    or more); otherwise from all classes. A measure of how alike the classes are.
    """
    rng = np.random.default_rng(seed)
    n_classes, n_per = images.shape[:2]
    if alphabet is None:
        cls = np.stack([rng.choice(n_classes, n_way, replace=False) for _ in range(tasks)])
    else:
        groups = [g for g in (np.flatnonzero(alphabet == a) for a in np.unique(alphabet))
                  if len(g) >= n_way]
        if not groups:
            raise ValueError(f"no alphabet has {n_way} classes")
        cls = np.stack([rng.choice(groups[rng.integers(len(groups))], n_way, replace=False)
                        for _ in range(tasks)])
    ex = np.argsort(rng.random((tasks, n_way, n_per)), -1)[..., :2]  # two distinct examples
    f = images.reshape(n_classes, n_per, -1).astype(np.float32) / 255
    sup, qry = f[cls, ex[..., 0]], f[cls, ex[..., 1]]  # (tasks, n_way, D)
    d = (np.square(qry).sum(-1)[..., None] - 2 * qry @ sup.transpose(0, 2, 1)
         + np.square(sup).sum(-1)[:, None, :])
    return float((d.argmin(-1) == np.arange(n_way)).mean())
