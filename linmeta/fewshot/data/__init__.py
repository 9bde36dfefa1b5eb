"""Few-shot data: generated glyph sets (:mod:`.glyphs`), loaders of files on disk
(:mod:`.loaders`), the data sets by name with their class splits (:mod:`.datasets`), and
reproducible episodes (:mod:`.episodes`)."""

from linmeta.errors import DataError

from .datasets import (
    DATASETS,
    GENERATED,
    ClassPools,
    default_split,
    load_dataset,
    rotate_classes,
    split_classes,
)
from .glyphs import (
    GLYPH_VERSION,
    OMNIGLYPH_RENDER,
    OMNIGLYPH_VERSION,
    cache_dir,
    glyphs,
    nn_accuracy,
    omniglyph_alphabets,
    omniglyphs,
)
from .loaders import load_mini_imagenet, load_npz, load_omniglot

__all__ = ["DATASETS", "GENERATED", "GLYPH_VERSION", "OMNIGLYPH_RENDER",
           "OMNIGLYPH_VERSION", "ClassPools",
           "DataError", "cache_dir", "default_split", "glyphs", "load_dataset",
           "load_mini_imagenet", "load_npz", "load_omniglot", "nn_accuracy",
           "omniglyph_alphabets", "omniglyphs", "rotate_classes", "split_classes"]
