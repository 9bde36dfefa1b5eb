"""Feature reuse (Raghu20): freezing, CKA / CCA properties, NIL, block activations."""

import numpy as np
import pytest
from fs_problems import tiny_problem

from linmeta.fewshot.engine.evaluate import evaluate_predictor
from linmeta.fewshot.engine.meta import InnerSpec, adapt_and_predict
from linmeta.fewshot.engine.network import forward, head_index, tree_map
from linmeta.fewshot.probes.reuse import (
    adapt_frozen,
    block_outputs,
    canonical_correlations,
    cca_similarity,
    feature_cosines,
    first_unfrozen,
    linear_cka,
    nil_logits,
    predict_frozen,
    representation_similarity,
    same_class_contrast,
)


def _problem(seed=0, dtype=np.float64):
    return tiny_problem(seed, channels=4, image_size=16, blocks=4, n_query=4, perturb=False,
                        dtype=dtype)


def _spec(lr, steps, algorithm="maml"):
    return InnerSpec.named(algorithm, lr=lr, steps=steps)


def _blocks_of(net, upto):
    names = [layer.name for layer in net[:first_unfrozen(net, upto)]]
    return [n for n in names if n.startswith(("conv", "bn"))]


@pytest.mark.parametrize("frozen", [1, 2, 3, 4])
def test_frozen_layers_bitwise_unchanged(frozen):
    net, params, (xs, ys, xq, yq) = _problem(1, np.float32)
    snapshot = {n: {k: a.copy() for k, a in d.items()} for n, d in params.items()}
    adapted = adapt_frozen(net, params, xs, ys, _spec(0.5, 3), frozen=frozen)
    frozen_names = _blocks_of(net, frozen)
    assert len(frozen_names) == 2 * frozen
    for name in params:
        for key in params[name]:
            # the caller's parameters are never modified
            assert params[name][key].tobytes() == snapshot[name][key].tobytes()
            if name in frozen_names:
                assert adapted[name][key].shape == snapshot[name][key].shape
                assert adapted[name][key].tobytes() == snapshot[name][key].tobytes()
    # the unfrozen part did move (so the check above can fail)
    moved = [n for n in adapted if n not in frozen_names]
    assert moved and all(
        adapted[n]["w" if "w" in adapted[n] else "g"].shape[0] == xs.shape[0] for n in moved)
    head = net[head_index(net)].name
    assert not np.allclose(adapted[head]["w"][0], snapshot[head]["w"])
    # and so do the frozen prefix's activations: bitwise equal before and after
    cut = first_unfrozen(net, frozen)
    a0, _ = forward(net, params, xq, 0, cut)
    a1, _ = forward(net, adapted, xq, 0, cut)
    assert a0.tobytes() == a1.tobytes()


def test_frozen_zero_is_maml_and_four_is_anil():
    net, params, (xs, ys, xq, yq) = _problem(2)
    maml, anil = _spec(0.3, 2), _spec(0.3, 2, "anil")
    z0 = predict_frozen(net, params, xs, ys, xq, anil, frozen=0)  # frozen overrides adapts
    np.testing.assert_array_equal(z0, adapt_and_predict(net, params, xs, ys, xq, maml))
    z4 = predict_frozen(net, params, xs, ys, xq, maml, frozen=4)
    np.testing.assert_allclose(z4, adapt_and_predict(net, params, xs, ys, xq, anil),
                               rtol=1e-12, atol=1e-12)
    # without frozen, the spec's own adapts
    np.testing.assert_array_equal(predict_frozen(net, params, xs, ys, xq, anil),
                                  adapt_and_predict(net, params, xs, ys, xq, anil))
    with pytest.raises(ValueError):
        first_unfrozen(net, 5)


# ---------------------------------------------------------------------------- CKA


def test_cka_identical_is_one_and_invariances():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 12))
    y = x @ rng.standard_normal((12, 7)) + 0.5 * rng.standard_normal((40, 7))
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    base = linear_cka(x, y)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert 0.05 < base < 0.999
    assert linear_cka(x @ q, y) == pytest.approx(base, abs=1e-12)  # orthogonal
    assert linear_cka(3.7 * x, 0.01 * y) == pytest.approx(base, abs=1e-12)  # isotropic scale
    assert linear_cka(x + 5.0, y) == pytest.approx(base, abs=1e-12)  # centring
    # not invariant to a general (anisotropic) linear map
    assert abs(linear_cka(x * np.linspace(0.1, 10, 12), y) - base) > 1e-3


def test_cka_of_one_column_is_squared_correlation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(30)
    y = 0.7 * x + rng.standard_normal(30)
    r = np.corrcoef(x, y)[0, 1]
    assert linear_cka(x[:, None], y[:, None]) == pytest.approx(r**2, abs=1e-12)


def test_cka_worked_example():
    # x = (1, 2, 3), y = (1, 3, 2) centred: (-1, 0, 1), (-1, 1, 0); r = 1/2 so CKA = 1/4
    assert linear_cka(np.array([[1.0], [2.0], [3.0]]),
                      np.array([[1.0], [3.0], [2.0]])) == pytest.approx(0.25, abs=1e-15)


# ---------------------------------------------------------------------------- CCA


def test_cca_constructed_example():
    rng = np.random.default_rng(2)
    n = 4000
    z = rng.standard_normal((n, 2))  # shared latent
    x = np.column_stack([z, rng.standard_normal(n)]) @ rng.standard_normal((3, 3))
    y = np.column_stack([z, rng.standard_normal(n)]) @ rng.standard_normal((3, 3))
    rho = canonical_correlations(x, y)
    assert rho[:2] == pytest.approx([1.0, 1.0], abs=1e-10)
    assert rho[2] < 0.1  # independent noise directions: about 1/sqrt(n)
    assert cca_similarity(x, y) == pytest.approx(np.mean(rho))
    # a partially correlated pair: corr(a, b) = 0.6 by construction
    a = rng.standard_normal(n)
    b = 0.6 * a + 0.8 * rng.standard_normal(n)
    assert canonical_correlations(a[:, None], b[:, None])[0] == pytest.approx(
        abs(np.corrcoef(a, b)[0, 1]), abs=1e-12)
    assert abs(np.corrcoef(a, b)[0, 1] - 0.6) < 0.05
    # invariant to invertible linear maps of either side
    m = rng.standard_normal((3, 3))
    np.testing.assert_allclose(canonical_correlations(x @ m, y), rho, atol=1e-9)


def test_cca_dims_keeps_top_directions():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 6)) * np.array([10, 5, 1, 0.1, 0.1, 0.1])
    assert canonical_correlations(x, x, dims=2).size == 2
    assert cca_similarity(x, x, dims=3) == pytest.approx(1.0, abs=1e-10)


# ---------------------------------------------------------------------------- activations, NIL


def test_block_outputs_and_similarity_before_after():
    net, params, (xs, ys, xq, yq) = _problem(4)
    acts = block_outputs(net, params, xq)
    assert list(acts) == ["block1", "block2", "block3", "block4", "head"]
    z, _ = forward(net, params, xq)
    np.testing.assert_array_equal(acts["head"], z)
    assert acts["block1"].shape == (2, 12, 8 * 8 * 4)
    sim = representation_similarity(net, params, xs, ys, xq, _spec(0.5, 2), frozen=4,
                                    cca_dims=3)
    for name in ("block1", "block2", "block3", "block4"):  # frozen: identical activations
        assert sim[name]["cka"] == pytest.approx(1.0, abs=1e-12)
        assert sim[name]["cca"] == pytest.approx(1.0, abs=1e-8)
    assert sim["head"]["cka"] < 1.0 - 1e-6


def test_nil_is_nearest_support_by_cosine():
    net, params, (xs, ys, xq, yq) = _problem(5)
    logits = nil_logits(net, params, xs, ys, xq, 3)
    hi = head_index(net)
    hs = forward(net, params, xs, 0, hi)[0]
    hq = forward(net, params, xq, 0, hi)[0]
    for t in range(2):
        for i in range(hq.shape[1]):
            cos = [float(hq[t, i] @ hs[t, j] / np.linalg.norm(hq[t, i]) / np.linalg.norm(hs[t, j]))
                   for j in range(hs.shape[1])]
            want = [np.mean([c for c, y in zip(cos, ys[t], strict=True) if y == k])
                    for k in range(3)]
            np.testing.assert_allclose(logits[t, i], want, atol=1e-12)


def test_evaluate_predictor_counts_accuracy():
    pool = np.random.default_rng(0).integers(0, 255, (6, 5, 4, 4, 1)).astype(np.uint8)

    def oracle(xs, ys, xq):  # logits that put the true class first (labels are sorted)
        t, n = xq.shape[:2]
        return np.tile(np.eye(3)[np.repeat(np.arange(3), n // 3)], (t, 1, 1))

    def wrong(xs, ys, xq):
        return np.roll(oracle(xs, ys, xq), 1, axis=-1)

    kw = dict(n_way=3, k_shot=1, n_query=2, tasks=7, batch=3)
    assert evaluate_predictor(oracle, pool, **kw).acc == 1.0
    assert evaluate_predictor(wrong, pool, **kw).acc == 0.0


def test_feature_cosines_and_contrast():
    net, params, (xs, ys, xq, yq) = _problem(6)
    cos = feature_cosines(net, params, xq[0])
    assert cos.shape == (12, 12)
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-12)
    np.testing.assert_allclose(cos, cos.T, atol=1e-12)
    c = same_class_contrast(np.array([[1, 0.9, 0.1], [0.9, 1, 0.3], [0.1, 0.3, 1]]), [0, 0, 1])
    assert c == pytest.approx({"same": 0.9, "diff": 0.2})


def test_tree_unchanged_helper_is_strict():
    # sanity for the bitwise check: one ulp of change is detected
    net, params, _ = _problem(7, np.float32)
    other = tree_map(lambda a: a.copy(), params)
    other["conv1"]["w"].flat[0] = np.nextafter(other["conv1"]["w"].flat[0], np.float32(1))
    assert other["conv1"]["w"].tobytes() != params["conv1"]["w"].tobytes()
