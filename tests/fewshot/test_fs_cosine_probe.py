"""Kao22's cosine probe: the class-pair cosine matrix by hand, the probe's task and training."""

import numpy as np
import pytest

from linmeta.fewshot.data import glyphs
from linmeta.fewshot.probes.cosine_probe import (
    ProbeConfig,
    class_pair_cosines,
    probe_task,
    run_probe,
    summary,
)


def test_class_pair_cosines_by_hand():
    # class 0: query (1, 0); class 1: query (0, 1); supports (1, 1) of class 0, (1, 0) and (2, 0)
    # of class 1; cosines: q0·s = 1/√2, 1, 1; q1·s = 1/√2, 0, 0
    hq = np.array([[1.0, 0.0], [0.0, 1.0]])
    hs = np.array([[1.0, 1.0], [1.0, 0.0], [2.0, 0.0]])
    m = class_pair_cosines(hq, [0, 1], hs, [0, 1, 1], 2)
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(m, [[r, 1.0], [r, 0.0]])
    s = summary(m)
    assert s["same"] == pytest.approx(r / 2) and s["diff"] == pytest.approx((1 + r) / 2)
    assert s["gap"] == pytest.approx(s["same"] - s["diff"])
    assert s["ratio"] == pytest.approx(s["same"] / s["diff"])


def test_probe_task_is_one_task_of_distinct_images():
    pool = glyphs(12, 8, 16)
    cfg = ProbeConfig(n_support=3, n_query=4)
    xs, ys, xq, yq, _ = probe_task(pool, cfg)
    assert xs.shape == (15, 16, 16, 1) and xq.shape == (20, 16, 16, 1)
    assert list(np.bincount(ys)) == [3] * 5 and list(np.bincount(yq)) == [4] * 5
    assert xs.dtype == np.float32 and 0 <= xs.min() and xs.max() <= 1
    with pytest.raises(ValueError, match="images per class"):
        probe_task(pool, ProbeConfig(n_support=5, n_query=4))


@pytest.fixture(scope="module")
def small_runs():
    pool = glyphs(12, 8, 28)
    kw = dict(n_support=3, n_query=3, outer_steps=4, every=2, channels=4, inner_steps=2)
    return {h: run_probe(pool, ProbeConfig(head=h, **kw)) for h in ("random", "zeroing")}


def test_probe_records_the_steps_and_matrices(small_runs):
    for r in small_runs.values():
        assert r["steps"] == [0, 1, 2, 4]
        assert np.asarray(r["matrices"]).shape == (4, 5, 5)
        assert all(-1 <= v <= 1 for m in r["matrices"] for row in m for v in row)
        assert r["gap"] == pytest.approx(np.subtract(r["same"], r["diff"]).tolist())


def test_the_heads_start_from_the_same_body(small_runs):
    # same seed: the same body and task; the features (before the head) agree at step 0
    np.testing.assert_allclose(small_runs["random"]["matrices"][0],
                               small_runs["zeroing"]["matrices"][0])
    assert small_runs["random"]["matrices"][-1] != small_runs["zeroing"]["matrices"][-1]


def test_probe_config_errors():
    with pytest.raises(ValueError, match="unknown head"):
        ProbeConfig(head="kaiming").validate()
    with pytest.raises(ValueError, match="n_way must be >= 2"):
        ProbeConfig(n_way=1).validate()
