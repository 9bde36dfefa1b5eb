"""A look at the omniglyphs set: ``python scripts/glyphs_preview.py``.

Writes ``figures/fewshot_glyphs.png`` (rows: alphabets; columns: characters of that alphabet,
two examples each) and ``figures/fewshot_glyphs.json``: how alike the classes are, as pixel-space
1-shot 5-way and 20-way nearest-neighbour accuracy on tasks drawn within one alphabet and across
all classes (within should be clearly lower, as in Omniglot), and the default split's sizes.
``--quick`` uses 200 classes (tests, smoke runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from linmeta.fewshot.data import (
    OMNIGLYPH_RENDER,
    OMNIGLYPH_VERSION,
    default_split,
    nn_accuracy,
    omniglyph_alphabets,
    omniglyphs,
)
from linmeta.io import atomic_savefig, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent


def mosaic(images: np.ndarray, alphabet: np.ndarray, rows: list, chars: int, examples: int):
    """One grey image: a row per alphabet, ``chars`` characters × ``examples`` examples, with a
    wide gap between characters. Ink is dark on white, as on paper; the gaps are grey, so the
    frame of every image shows."""
    size = images.shape[2]
    gap, wide = 1, 6
    width = chars * (examples * (size + gap) + wide)
    out = np.full((len(rows) * (size + wide), width), 200, np.uint8)
    for i, a in enumerate(rows):
        for j, c in enumerate(np.flatnonzero(alphabet == a)[:chars]):
            for e in range(examples):
                x = j * (examples * (size + gap) + wide) + e * (size + gap)
                y = i * (size + wide)
                out[y : y + size, x : x + size] = 255 - images[c, e, ..., 0]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="200 classes instead of 1,623.")
    p.add_argument("--figures", default=str(ROOT / "figures"), help="Output folder.")
    p.add_argument("--tasks", type=int, default=4000, help="Tasks per accuracy.")
    args = p.parse_args(argv)
    n_classes = 200 if args.quick else 1623
    images = omniglyphs(n_classes)
    alphabet = omniglyph_alphabets(n_classes)
    n_alphabets = int(alphabet.max()) + 1
    nn = {f"nn_1shot_{n_way}way": {
        "within_alphabet": nn_accuracy(images, alphabet, n_way=n_way, tasks=args.tasks),
        "across_alphabets": nn_accuracy(images, n_way=n_way, tasks=args.tasks),
        "tasks": args.tasks} for n_way in (5, 20)}
    within, across = (nn["nn_1shot_5way"][k] for k in ("within_alphabet", "across_alphabets"))
    sizes = default_split(n_classes)
    summary = {
        "set": f"omniglyphs v{OMNIGLYPH_VERSION}r{OMNIGLYPH_RENDER}: {n_classes} classes in "
               f"{n_alphabets} alphabets, {images.shape[1]} examples, {images.shape[2]} px",
        **nn,
        "split": dict(zip(("train", "val", "test"), sizes, strict=True)),
        "split_with_rotations": dict(zip(("train", "val", "test"), [4 * s for s in sizes],
                                         strict=True)),
    }
    rows = list(np.linspace(0, n_alphabets - 1, min(8, n_alphabets)).round().astype(int))
    chars, examples = 7, 2
    img = mosaic(images, alphabet, rows, chars, examples)
    fig = Figure(figsize=(img.shape[1] / 40, img.shape[0] / 40 + 0.6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    size = images.shape[2]
    ax.set_yticks([i * (size + 6) + size / 2 for i in range(len(rows))],
                  [f"alphabet {a}" for a in rows], fontsize=8)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"omniglyphs: {n_classes} characters in {n_alphabets} alphabets "
                 f"({chars} characters per row, {examples} examples each); pixel 1-shot 5-way "
                 f"nearest neighbour {within:.2f} within an alphabet, {across:.2f} across",
                 fontsize=8)
    figs = Path(args.figures)
    figs.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    atomic_savefig(fig, figs / f"fewshot_glyphs{suffix}.png", dpi=130)
    atomic_write_text(figs / f"fewshot_glyphs{suffix}.json", json.dumps(summary, indent=1) + "\n")
    print(f"wrote {figs / f'fewshot_glyphs{suffix}.png'}: within {within:.3f}, "
          f"across {across:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
