"""Glyphs, omniglyphs, class splits, episodes and the on-disk loaders (tiny fixtures)."""

import dataclasses
import importlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta.fewshot import data as D
from linmeta.fewshot.cli import fewshot
from linmeta.fewshot.data.episodes import sample_episodes
from linmeta.fewshot.engine.train import TrainConfig, build


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINMETA_CACHE", str(tmp_path / "cache"))
    D.glyphs.cache_clear()
    D.omniglyphs.cache_clear()


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


# ---------------------------------------------------------------------------- omniglyphs


def test_omniglyphs_bit_identical_shapes_and_cache_round_trip(tmp_path):
    a = D.omniglyphs(30, 5, 28, seed=2, n_alphabets=3, cache=False)
    assert a.shape == (30, 5, 28, 28, 1) and a.dtype == np.uint8
    assert not (tmp_path / "cache").exists()  # cache off: nothing written
    D.omniglyphs.cache_clear()
    np.testing.assert_array_equal(D.omniglyphs(30, 5, 28, seed=2, n_alphabets=3, cache=False), a)
    D.omniglyphs.cache_clear()
    np.testing.assert_array_equal(D.omniglyphs(30, 5, 28, seed=2, n_alphabets=3), a)  # written
    (path,) = (tmp_path / "cache").glob("omniglyphs-*.npz")
    assert f"-v{D.OMNIGLYPH_VERSION}r{D.OMNIGLYPH_RENDER}-" in path.name
    D.omniglyphs.cache_clear()
    np.testing.assert_array_equal(D.omniglyphs(30, 5, 28, seed=2, n_alphabets=3), a)  # read
    path.write_bytes(b"not an npz")  # a broken cache file is regenerated
    D.omniglyphs.cache_clear()
    np.testing.assert_array_equal(D.omniglyphs(30, 5, 28, seed=2, n_alphabets=3), a)
    assert not np.array_equal(D.omniglyphs(30, 5, 28, seed=3, n_alphabets=3, cache=False), a)
    # ink present but sparse; examples of a class differ; every image has ink
    f = a.astype(float) / 255
    assert 0.03 < f.mean() < 0.3 and f.reshape(150, -1).max(1).min() > 0.5
    assert all(not np.array_equal(a[c, 0], a[c, 1]) for c in range(30))
    assert D.omniglyphs(4, 2, 40, n_alphabets=1, cache=False).shape == (4, 2, 40, 40, 1)


def test_omniglyph_alphabets_are_omniglot_like():
    al = D.omniglyph_alphabets()
    sizes = np.bincount(al)
    assert len(al) == 1623 and len(sizes) == 50 and sizes.min() >= 10 and sizes.max() <= 60
    assert np.all(np.diff(al) >= 0)  # consecutive runs
    small = D.omniglyph_alphabets(7, 3, seed=1)
    assert len(small) == 7 and set(small) == {0, 1, 2}
    assert len(np.unique(D.omniglyph_alphabets(60))) == 2  # 50 per 1,623 classes
    with pytest.raises(ValueError, match="n_alphabets"):
        D.omniglyph_alphabets(5, 6)


def test_nn_accuracy_extremes():
    rng = np.random.default_rng(0)
    clean = np.repeat(rng.integers(0, 256, (12, 1, 6, 6, 1), dtype=np.uint8), 3, axis=1)
    assert D.nn_accuracy(clean, tasks=200) == 1.0  # every example of a class is the same
    noise = rng.integers(0, 256, (12, 3, 6, 6, 1), dtype=np.uint8)  # classes mean nothing
    assert 0.1 < D.nn_accuracy(noise, tasks=2000) < 0.3
    with pytest.raises(ValueError, match="no alphabet"):
        D.nn_accuracy(clean, np.arange(12), tasks=5)


def test_alphabets_are_harder_within_than_across():
    # 1-shot 5-way pixel nearest neighbour, measured on 160 classes in 8 alphabets: 0.54 within
    # one alphabet against 0.62 across (seed 0; the gap is 0.075-0.12 over seeds 0-4); on the
    # full set (1,623 classes, 50 alphabets, scripts/glyphs_preview.py) 0.50 against 0.59
    a = D.omniglyphs(160, 2, 28, seed=0, n_alphabets=8, cache=False)
    al = D.omniglyph_alphabets(160, 8, seed=0)
    within, across = D.nn_accuracy(a, al, tasks=3000), D.nn_accuracy(a, tasks=3000)
    assert 0.3 < within < across - 0.04 and across < 0.9


@pytest.mark.parametrize("name", ["glyphs", "omniglyphs"])
def test_class_split_is_fixed_by_split_seed_not_run_seed(name):
    cfg = TrainConfig(dataset=name, n_classes=40, image_size=16, channels=4)
    _, d0, _, _ = build(cfg)
    _, d1, _, _ = build(dataclasses.replace(cfg, seed=1))
    assert d0.split == d1.split and d0.split["split_seed"] == 0
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(d0[k], d1[k])
    _, d2, _, _ = build(dataclasses.replace(cfg, split_seed=1))
    assert d2.split["classes"]["train"] != d0.split["classes"]["train"]
    classes = d0.split["classes"]
    assert [len(classes[k]) for k in ("train", "val", "test")] == [25, 5, 10]
    assert sorted(sum(classes.values(), [])) == list(range(40))
    json.dumps(d0.split)  # recordable as it is
    if name == "omniglyphs":
        al = D.omniglyph_alphabets(40)
        assert d0.split["alphabets"]["val"] == al[classes["val"]].tolist()


def test_rotations_are_new_classes_in_the_same_split():
    plain = D.load_dataset("omniglyphs", n_classes=40, image_size=12, split_seed=3)
    turned = D.load_dataset("omniglyphs", n_classes=40, image_size=12, split_seed=3,
                            rotations=True)
    assert turned.split["classes"] == plain.split["classes"] and turned.split["rotations"]
    for k in ("train", "val", "test"):
        base = plain[k]
        assert turned[k].shape == (4 * len(base),) + base.shape[1:]
        for r in range(4):  # class 4c + r is class c turned r quarter turns, in c's split
            np.testing.assert_array_equal(turned[k][r::4], np.rot90(base, r, axes=(2, 3)))
    x = plain["train"][:1]
    assert not np.array_equal(D.rotate_classes(x)[1], x[0])  # a turned glyph is a new image
    with pytest.raises(D.DataError, match="square"):
        D.rotate_classes(np.zeros((2, 3, 4, 5, 1), np.uint8))


def test_invert_gives_255_minus_each_pixel_of_the_same_classes():
    plain = D.load_dataset("glyphs", n_classes=40, image_size=12, split_seed=2)
    dark = D.load_dataset("glyphs", n_classes=40, image_size=12, split_seed=2, invert=True)
    assert dark.split["classes"] == plain.split["classes"]
    for k in ("train", "val", "test"):
        assert dark[k].dtype == np.uint8
        np.testing.assert_array_equal(dark[k].astype(int), 255 - plain[k].astype(int))
    assert plain["train"].max() == 255 and dark["train"].min() == 0  # ink is 255 before
    both = D.load_dataset("glyphs", n_classes=40, image_size=12, split_seed=2, invert=True,
                          rotations=True)
    np.testing.assert_array_equal(both["val"][1::4], np.rot90(dark["val"], 1, axes=(2, 3)))


def test_cli_split_seed_and_rotations(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(fewshot, [
        "train", "-o", str(out), "--dataset", "omniglyphs", "--n-classes", "40",
        "--image-size", "16", "--channels", "2", "--meta-batch", "1", "--n-query", "1",
        "--steps", "1", "--val-tasks", "1", "--test-tasks", "1", "--split-seed", "4",
        "--rotations", "-q"])
    assert res.exit_code == 0, res.output
    config = json.loads((out / "config.json").read_text())
    assert config["split_seed"] == 4 and config["rotations"] is True
    split = json.loads((out / "split.json").read_text())
    assert split["split_seed"] == 4 and split["rotations"] is True
    expected = D.split_classes(40, (25, 5, 10), seed=4)
    assert split["classes"] == {k: v.tolist() for k, v in expected.items()}


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


def test_preview_script_writes_figure_and_numbers(tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "glyphs_preview.py"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), "--quick", "--tasks", "300",
                           "--figures", str(tmp_path / "figs")],
                          capture_output=True, text=True, timeout=900, env=env)  # a hang guard
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "figs" / "fewshot_glyphs-quick.png").stat().st_size > 5000
    out = json.loads((tmp_path / "figs" / "fewshot_glyphs-quick.json").read_text())
    nn = out["nn_1shot_5way"]
    assert nn["within_alphabet"] < nn["across_alphabets"]
    assert out["split"] == {"train": 136, "val": 12, "test": 52}


def _omniglyph_class_alone(c: int, n_classes: int = 1623, n_alphabets: int = 50) -> np.ndarray:
    """Class ``c`` of the omniglyphs set (seed 0) drawn alone, through the function the set's
    builder calls for each class."""
    G = importlib.import_module("linmeta.fewshot.data.glyphs")  # not the function `glyphs`
    style = G._omniglyph_style(0, G.omniglyph_alphabets(n_classes, n_alphabets, 0)[c])
    return G._omniglyph_class(0, c, style, 20, 28)


@pytest.mark.parametrize("c", [156, 959, 968])
def test_omniglyph_pixels_do_not_depend_on_the_blas_thread_count(c):
    """Classes 156, 959 and 968 of the default set are those whose pixels changed with the BLAS
    thread count when the ink was summed in float32 (1 against 2 OpenBLAS threads, one grey
    level in a few pixels)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        one = _omniglyph_class_alone(c)
    with threadpool_limits(4, user_api="blas"):
        many = _omniglyph_class_alone(c)
    np.testing.assert_array_equal(one, many)


def test_one_class_drawn_alone_is_that_class_of_the_set():
    """The helper above draws what the set holds (so the thread test tests the set)."""
    full = D.omniglyphs(40, 20, 28, seed=0, n_alphabets=2, cache=False)
    np.testing.assert_array_equal(_omniglyph_class_alone(37, 40, 2), full[37, ..., 0])
