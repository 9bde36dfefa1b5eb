"""Glyphs, class splits, episodes and the on-disk loaders (tiny fixtures built here)."""

import pickle

import numpy as np
import pytest

from linmeta.fewshot import data as D
from linmeta.fewshot.episodes import sample_episodes


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINMETA_CACHE", str(tmp_path / "cache"))
    D.glyphs.cache_clear()


def test_glyphs_deterministic_distinct_and_cached(tmp_path):
    a = D.glyphs(12, 6, 28, seed=3)
    assert a.shape == (12, 6, 28, 28, 1) and a.dtype == np.uint8
    files = list((tmp_path / "cache").glob("glyphs-*.npz"))
    assert len(files) == 1
    D.glyphs.cache_clear()
    np.testing.assert_array_equal(D.glyphs(12, 6, 28, seed=3), a)  # from the disk cache
    D.glyphs.cache_clear()
    np.testing.assert_array_equal(D.glyphs(12, 6, 28, seed=3, cache=False), a)  # regenerated
    # a class depends only on (seed, class index): the first classes of a larger set agree
    np.testing.assert_array_equal(D.glyphs(20, 6, 28, seed=3, cache=False)[:12], a)
    assert not np.array_equal(D.glyphs(12, 6, 28, seed=4, cache=False), a)
    # ink present, samples of a class vary, and classes differ more than samples of one class
    f = a.reshape(12, 6, -1).astype(float) / 255
    assert 0.03 < f.mean() < 0.5
    within = np.mean([np.abs(f[c, 0] - f[c, 1]).mean() for c in range(12)])
    between = np.mean([np.abs(f[c, 0] - f[(c + 1) % 12, 0]).mean() for c in range(12)])
    assert 0 < within < between


def test_broken_cache_file_is_regenerated(tmp_path):
    a = D.glyphs(3, 2, 16, seed=0)
    path = next((tmp_path / "cache").glob("glyphs-*.npz"))
    path.write_bytes(b"not an npz")
    D.glyphs.cache_clear()
    np.testing.assert_array_equal(D.glyphs(3, 2, 16, seed=0), a)


def test_split_is_disjoint_and_seeded():
    s = D.split_classes(50, (30, 5, 15), seed=1)
    allc = np.concatenate([s["train"], s["val"], s["test"]])
    assert len(np.unique(allc)) == 50
    assert not np.array_equal(s["train"], D.split_classes(50, (30, 5, 15), seed=2)["train"])
    with pytest.raises(D.DataError):
        D.split_classes(10, (8, 2, 2), seed=0)
    assert D.default_split(1623) == (1100, 100, 423)


def test_episodes_labels_permutation_and_determinism():
    rng = np.random.default_rng(0)
    # class c's images are filled with the value c, so labels can be traced back to classes
    pool = np.repeat(np.arange(10, dtype=np.uint8)[:, None], 8, axis=1)[..., None, None, None]
    pool = np.broadcast_to(pool, (10, 8, 2, 2, 1)).copy()
    ep = sample_episodes(pool, rng, 50, 4, 2, 3)
    assert ep.xs.shape == (50, 8, 2, 2, 1) and ep.xq.shape == (50, 12, 2, 2, 1)
    assert ep.xs.dtype == np.float32
    cls_s = np.rint(ep.xs[..., 0, 0, 0] * 255).astype(int)  # (T, N·K)
    cls_q = np.rint(ep.xq[..., 0, 0, 0] * 255).astype(int)
    for t in range(50):
        m = {}
        for c, y in zip(cls_s[t], ep.ys[t], strict=True):
            assert m.setdefault(int(y), c) == c  # one class per label
        assert len(set(m.values())) == 4
        assert all(m[int(y)] == c for c, y in zip(cls_q[t], ep.yq[t], strict=True))
    # fresh label permutation: label 0 is not always the same class / the smallest class
    first = np.array([cls_s[t][ep.ys[t] == 0][0] for t in range(50)])
    assert len(np.unique(first)) > 5
    ep2 = sample_episodes(pool, np.random.default_rng(0), 50, 4, 2, 3)
    np.testing.assert_array_equal(ep2.xs, ep.xs)
    with pytest.raises(ValueError, match="exceed"):
        sample_episodes(pool, rng, 1, 4, 5, 5)


def test_support_and_query_samples_are_distinct():
    pool = np.arange(3 * 6, dtype=np.uint8).reshape(3, 6, 1, 1, 1)  # every image unique
    ep = sample_episodes(pool, np.random.default_rng(1), 20, 3, 2, 4)
    for t in range(20):
        vals = np.concatenate([ep.xs[t].ravel(), ep.xq[t].ravel()])
        assert len(np.unique(vals)) == len(vals)


# ---------------------------------------------------------------------------- loaders


def _png(path, arr):
    import matplotlib.image as mpimg

    path.parent.mkdir(parents=True, exist_ok=True)
    mpimg.imsave(path, arr, cmap="gray", vmin=0, vmax=1)


def test_omniglot_layout(tmp_path):
    root = tmp_path / "omniglot"
    for part, alphabets in (("images_background", ["A", "B"]), ("images_evaluation", ["C"])):
        for al in alphabets:
            for ch in ("character01", "character02"):
                for i in range(3):
                    img = np.ones((20, 20))
                    img[5:15, 8:12] = 0.0  # a dark stroke on white, as in Omniglot
                    _png(root / part / al / ch / f"{i}.png", img)
    arr = D.load_omniglot(root, size=10)
    assert arr.shape == (6, 3, 10, 10, 1)
    assert arr[0, 0, 5, 5, 0] > 200 and arr[0, 0, 0, 0, 0] < 30  # inverted: ink = bright
    splits = D.load_dataset("omniglot", root, split=(3, 1, 2), image_size=10)
    assert splits["train"].shape[0] == 3 and splits["test"].shape[0] == 2


def test_omniglot_missing_and_corrupt(tmp_path):
    with pytest.raises(D.DataError, match="Omniglot layout"):
        D.load_omniglot(tmp_path)
    bad = tmp_path / "images_background" / "A" / "c1"
    bad.mkdir(parents=True)
    (bad / "0.png").write_bytes(b"garbage")
    (bad / "1.png").write_bytes(b"garbage")
    with pytest.raises(D.DataError, match="cannot read image"):
        D.load_omniglot(tmp_path)


def _mini_pickle(path, n_cls, per, size=84, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n_cls * per, size, size, 3), dtype=np.uint8)
    cd = {f"n{c:08d}": list(range(c * per, (c + 1) * per)) for c in range(n_cls)}
    with open(path, "wb") as f:
        pickle.dump({"image_data": imgs, "class_dict": cd}, f)
    return imgs


def test_mini_imagenet_pickles(tmp_path):
    imgs = _mini_pickle(tmp_path / "mini-imagenet-cache-train.pkl", 3, 4)
    _mini_pickle(tmp_path / "mini-imagenet-cache-val.pkl", 2, 4, seed=1)
    _mini_pickle(tmp_path / "mini-imagenet-cache-test.pkl", 2, 4, seed=2)
    out = D.load_mini_imagenet(tmp_path)
    assert out["train"].shape == (3, 4, 84, 84, 3)
    np.testing.assert_array_equal(out["train"][1, 2], imgs[6])
    small = D.load_mini_imagenet(tmp_path, size=21)  # resized
    assert small["val"].shape == (2, 4, 21, 21, 3)


def test_mini_imagenet_folders_and_errors(tmp_path):
    for split in ("train", "val", "test"):
        for c in range(2):
            for i in range(2):
                _png(tmp_path / split / f"n0{c}" / f"{i}.png", np.full((12, 12), 0.5))
    out = D.load_mini_imagenet(tmp_path, size=6)
    assert out["test"].shape == (2, 2, 6, 6, 3)
    with pytest.raises(D.DataError, match="lacks mini-ImageNet splits"):
        D.load_mini_imagenet(tmp_path / "train")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mini-imagenet-cache-train.pkl").write_bytes(b"\x80\x04junk")
    with pytest.raises(D.DataError, match="cannot read mini-ImageNet pickle"):
        D.load_mini_imagenet(tmp_path / "p")


def test_npz_loader(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((12, 5, 5))
    labels = np.repeat([7, 3, 9], 4)
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    arr = D.load_npz(tmp_path / "d.npz")
    assert arr.shape == (3, 4, 5, 5, 1) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr[0, 0, ..., 0], np.round(images[4] * 255))  # label 3 first
    np.savez(tmp_path / "bad.npz", pictures=images)
    with pytest.raises(D.DataError, match="'images' and 'labels'"):
        D.load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "len.npz", images=images, labels=labels[:5])
    with pytest.raises(D.DataError, match="need images"):
        D.load_npz(tmp_path / "len.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(D.DataError, match="cannot read"):
        D.load_npz(tmp_path / "corrupt.npz")
    with pytest.raises(D.DataError, match="no such file"):
        D.load_npz(tmp_path / "missing.npz")


def test_unknown_dataset_and_missing_path():
    with pytest.raises(D.DataError, match="unknown dataset"):
        D.load_dataset("cifar")
    with pytest.raises(D.DataError, match="needs a path"):
        D.load_dataset("npz")
