"""Processing a round's tasks in chunks changes memory, not results."""

import numpy as np
import pytest

from linmeta.budget import task_bytes, tasks_per_chunk
from linmeta.experiment import Config, ConfigError, run


@pytest.mark.parametrize("mode", ["finite", "population"])
def test_chunked_run_equals_unchunked(mode):
    cfg = Config(d=15, k=2, n_tasks=23, steps=20, trials=2, mode=mode, alpha=0.2, beta=0.3,
                 sigma=0.1, tau=2, n_test_tasks=4, methods=("maml", "anil", "fo_anil", "erm"))
    whole = run(cfg)
    for chunk in (5, 23):
        parts = run(cfg.replace(chunk_tasks=chunk))
        for name in cfg.methods:
            for metric in ("dist", "loss", "w_norm", "risk_subspace"):
                np.testing.assert_allclose(parts.runs[name].metrics[metric],
                                           whole.runs[name].metrics[metric],
                                           rtol=1e-10, atol=1e-13, err_msg=f"{name} {metric}")
            np.testing.assert_allclose(parts.runs[name].B, whole.runs[name].B, rtol=1e-10,
                                       atol=1e-13)


def test_memory_budget_sets_the_chunk_size():
    cfg = Config(mode="finite", d=1000, k=10, n_tasks=10_000, trials=10, m_in=10, m_out=10,
                 methods=("fo_anil",))
    assert tasks_per_chunk(cfg) == 10_000
    budget = cfg.replace(memory_mb=512)
    chunk = tasks_per_chunk(budget)
    assert 1 <= chunk < 10_000
    assert chunk * task_bytes(budget) <= 512 * 2**20 < (chunk + 1) * task_bytes(budget)
    assert tasks_per_chunk(budget.replace(chunk_tasks=7)) == 7
    assert tasks_per_chunk(cfg.replace(memory_mb=1e-9)) == 1


def test_chunking_needs_a_per_task_gradient():
    with pytest.raises(ConfigError, match="chunked runs"):
        Config(methods=("anil", "mom"), chunk_tasks=4)
