"""The CuPy backend runs the same code as NumPy and agrees to float64 round-off (GPU only)."""

import numpy as np
import pytest

from linmeta.backend import BackendError, cupy_available, get_xp, to_numpy
from linmeta.experiment import Config, run

gpu = pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(BackendError, match="unknown backend"):
        get_xp("jax")


def test_to_numpy_is_identity_for_numpy():
    a = np.arange(3.0)
    assert to_numpy(a) is a or np.shares_memory(to_numpy(a), a)


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["population", "finite"])
@pytest.mark.parametrize("tau", [1, 2])
def test_cupy_matches_numpy(mode, tau):
    cfg = Config(d=16, k=3, n_tasks=12, steps=25, trials=3, tau=tau, mode=mode, alpha=0.2,
                 beta=0.3, sigma=0.1, n_test_tasks=4)
    a, b = run(cfg), run(cfg.replace(backend="cupy"))
    for name in cfg.methods:
        for metric in ("dist", "loss", "w_norm"):
            np.testing.assert_allclose(b.runs[name].metrics[metric], a.runs[name].metrics[metric],
                                       rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.runs[name].B, a.runs[name].B, rtol=1e-9, atol=1e-12)


@gpu
@pytest.mark.gpu
def test_cupy_float32_runs():
    cfg = Config(steps=30, trials=2, backend="cupy", dtype="float32", methods=("fo_anil",))
    dist = run(cfg).runs["fo_anil"].metrics["dist"]
    assert dist[:, -1].max() < 1e-2


@gpu
@pytest.mark.gpu
def test_cupy_matches_numpy_on_fixed_data_with_meta_batches():
    cfg = Config(d=16, k=3, n_tasks=12, steps=25, trials=3, mode="finite", samples="fixed",
                 batch_tasks=5, alpha=0.2, beta=0.3, sigma=0.1, n_test_tasks=0,
                 methods=("maml", "fo_anil", "erm", "fedrep", "mom"))
    a, b = run(cfg), run(cfg.replace(backend="cupy"))
    for name in cfg.methods:
        np.testing.assert_allclose(b.runs[name].B, a.runs[name].B, rtol=1e-9, atol=1e-12)
        assert list(b.runs[name].samples) == list(a.runs[name].samples)
