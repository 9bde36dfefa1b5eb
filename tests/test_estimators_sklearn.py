"""The estimators as scikit-learn estimators: scikit-learn's own checks where they apply to
X of shape (tasks, m, d), model selection over tasks, pipelines, every kind of random_state,
divergence warnings, and a one-line error naming the parameter for each bad input."""

import inspect
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError, SkipTestWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

from linmeta import estimators as E
from linmeta.budget import MAX_HOURS_ENV, BudgetError
from linmeta.environment import draw_init, generator, streams
from linmeta.errors import DataError
from linmeta.experiment import Config, draw_fixed_data, draw_problem
from linmeta.metrics import subspace_distance

CLASSES = [E.MethodOfMoments, E.MultiTaskERM, E.AltMin, E.FedRep, E.MAML, E.FOMAML, E.ANIL,
           E.FOANIL, E.ERM, E.Reptile]
ITERATIVE = [cls for cls in CLASSES if "steps" in inspect.signature(cls).parameters]
SPLITTING = [E.AltMin, E.MAML, E.FOMAML, E.ANIL, E.FOANIL]  # inner/outer samples per task


def synthetic(seed=0, n=12, m=8, d=5, k=2, sigma=0.1):
    """Tasks from the simulator's own generator (a fixed dataset of ``samples='fixed'``):
    X (n, m, d), y (n, m) and B* (d, k)."""
    cfg = Config(mode="finite", samples="fixed", d=d, k=k, n_tasks=n, m_in=m // 2,
                 m_out=m - m // 2, sigma=sigma, trials=1, n_test_tasks=0, seed=seed)
    seqs = streams(seed)
    problem = draw_problem(cfg, generator(seqs["problem"]))
    data = draw_fixed_data(cfg, problem, seqs)
    return data.X[0], data.y[0], problem.B_star[0]


def small(cls, k=2, **params):
    """A fast instance: few steps and small rates (no divergence on ``synthetic``)."""
    names = inspect.signature(cls).parameters
    defaults = {"steps": 5, "alpha": 0.1, "beta": 0.1, "random_state": 0}
    return cls(k, **{**{p: v for p, v in defaults.items() if p in names}, **params})


# ---------------------------------------------------------------- scikit-learn's checks

#: scikit-learn's checks that cannot apply: each fits or transforms 2-D X (samples, features)
#: that it generates itself, while these estimators take tasks X (tasks, m, d); the test
#: below checks their intent on 3-D data instead (marked "3-D" where it does).
NEEDS_2D = {name: "generates 2-D X (samples, features); X here is (tasks, m, d)" for name in [
    "check_fit_score_takes_y",             # 3-D: fit/score signatures below
    "check_estimators_overwrite_params",   # 3-D: test_fit_keeps_params_and_data
    "check_dont_overwrite_parameters",     # 3-D: idem
    "check_estimators_fit_returns_self",   # 3-D: idem
    "check_readonly_memmap_input",         # 3-D: idem
    "check_n_features_in_after_fitting",   # 3-D: test_fitted_state
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",             # 3-D: integer and float32 X below
    "check_dtype_object",
    "check_estimators_empty_data_messages",  # 3-D: test_bad_data
    "check_pipeline_consistency",          # 3-D: test_pipeline
    "check_estimators_nan_inf",            # 3-D: test_bad_data
    "check_estimators_pickle",             # 3-D: test_fitted_state
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",  # 3-D: lists of tasks, test_ragged_tasks
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_methods_sample_order_invariance",  # 3-D: test_fitted_state (task order)
    "check_methods_subset_invariance",     # 3-D: test_fitted_state
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",                # 3-D: test_fit_keeps_params_and_data
    "check_fit_idempotent",                # 3-D: test_fitted_state
    "check_fit_check_is_fitted",           # 3-D: test_fitted_state
    "check_n_features_in",                 # 3-D: test_fitted_state
    "check_fit2d_predict1d",
]}
#: Skipped by scikit-learn itself here (needs SCIPY_ARRAY_API=1 and an array-API library).
SKIPPED = {"check_array_api_input"}


def as_if_2d(cls):
    """``cls`` with the tag two_d_array set, so that check_estimator generates its checks
    (with the true tags, three_d_array only, it skips every check after cloning)."""

    def tags(self):
        t = super(view, self).__sklearn_tags__()
        t.input_tags.two_d_array = True
        return t

    view = type(cls.__name__, (cls,), {"__sklearn_tags__": tags})
    return view


@pytest.mark.parametrize("cls", CLASSES)
def test_scikit_learn_check_estimator(cls):
    """Every check of scikit-learn's check_estimator that does not fit on its own 2-D data
    passes unchanged (the API: clone, tags, repr, init stores, set_params, unfitted errors,
    complex, sparse and 1-D input refused, y required); the others are listed in NEEDS_2D
    and must fail only for that reason."""
    with pytest.warns(SkipTestWarning, match="three_d_array=True"):
        results = check_estimator(cls(2), on_skip=None)
    assert [r["check_name"] for r in results] == ["check_estimator_cloneable"]

    results = check_estimator(as_if_2d(cls)(2, random_state=0),
                              expected_failed_checks=NEEDS_2D, on_skip=None, on_fail="raise")
    status = {}
    for r in results:
        status.setdefault(r["status"], set()).add(r["check_name"])
        if r["status"] == "xfail":  # failed only on the shape of the generated data
            assert isinstance(r["exception"], (DataError, AssertionError)), r
    assert status.get("xfail", set()) == set(NEEDS_2D)
    assert status.get("skipped", set()) <= SKIPPED
    assert {"check_estimator_cloneable", "check_no_attributes_set_in_init", "check_set_params",
            "check_get_params_invariance", "check_estimators_unfitted", "check_complex_data",
            "check_estimator_sparse_array", "check_fit1d", "check_requires_y_none",
            "check_parameters_default_constructible"} <= status["passed"]
    assert len(status["passed"]) >= 19


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_keeps_params_and_data(cls):
    """fit returns self; it changes neither the parameters nor X, y; read-only (memory-mapped)
    input works; transform, predict and score leave the fitted state unchanged."""
    X, y, _ = synthetic()
    X.setflags(write=False)
    y.setflags(write=False)
    X0, y0 = X.copy(), y.copy()
    est = small(cls)
    params = est.get_params()
    assert est.fit(X, y) is est
    assert est.get_params() == params
    assert np.array_equal(X, X0) and np.array_equal(y, y0)
    state = pickle.dumps(est.__dict__)
    est.transform(X), est.score(X, y)
    assert pickle.dumps(est.__dict__) == state
    assert list(inspect.signature(est.fit).parameters)[:2] == ["X", "y"]
    assert list(inspect.signature(est.score).parameters) == ["X", "y"]


@pytest.mark.parametrize("cls", CLASSES)
def test_fitted_state(cls):
    """check_is_fitted, n_features_in_, idempotent fits, pickling, subset and task order."""
    X, y, _ = synthetic()
    est = small(cls)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        est.transform(X)
    est.fit(X, y)
    check_is_fitted(est)
    assert est.n_features_in_ == 5 and est.B_.shape == (5, 2) and est.heads_.shape == (12, 2)
    B = est.B_.copy()
    assert np.array_equal(est.fit(X, y).B_, B)  # idempotent for an integer seed
    assert subspace_distance(small(cls).fit(X.astype(np.float32), y).B_, B) < 1e-4
    assert np.isfinite(small(cls).fit(np.rint(X).astype(int), y).B_).all()
    back = pickle.loads(pickle.dumps(est))
    assert np.array_equal(back.transform(X), est.transform(X))
    assert np.array_equal(est.transform(X[3:5]), est.transform(X)[3:5])  # subsets of tasks
    if "batch_tasks" in est.get_params():  # all tasks each round: their order is a sum's
        order = np.random.default_rng(0).permutation(len(X))
        assert np.allclose(clone(est).fit(X[order], y[order]).B_, B, atol=1e-9)
    with pytest.raises(DataError, match="X has 4 features, but .* expecting 5"):
        est.transform(X[..., :4])
    with pytest.raises(DataError, match="4 features"):
        est.score(X[..., :4], y)


def test_a_new_fit_resets_every_fitted_attribute():
    """A fit on data of another dimension forgets the last task head: predict refuses."""
    X, y, _ = synthetic(d=5)
    est = E.FedRep(2, steps=5, random_state=0).fit(X, y).fit_head(X[0], y[0])
    assert est.predict(X[1]).shape == (8,)
    X6, y6, _ = synthetic(d=6)
    est.fit(X6, y6)
    assert not hasattr(est, "head_") and est.B_.shape == (6, 2)
    with pytest.raises(NotFittedError, match="fit_head"):
        est.predict(X6[0])
    with pytest.raises(ValueError, match="n_components"):  # a failed fit leaves no fit
        est.set_params(n_components=9).fit(X6, y6)
    assert not hasattr(est, "B_")


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("cls", CLASSES)
def test_clone_get_params_set_params(cls):
    est = small(cls, k=3)
    names = list(inspect.signature(cls).parameters)
    assert names[0] == "n_components" and set(est.get_params(deep=True)) == set(names)
    assert est.get_params(deep=False) == est.get_params(deep=True)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert est.set_params(n_components=2) is est and est.n_components == 2
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(gamma=1)
    X, y, _ = synthetic()
    est.fit(X, y)
    assert not hasattr(clone(est), "B_")
    # __init__ stores values as given: a bad one is refused by fit, not by the constructor
    bad = cls("two")
    assert bad.n_components == "two"
    with pytest.raises(TypeError, match="n_components"):
        bad.fit(X, y)


@pytest.mark.parametrize("make, error, name", [
    (lambda: E.AltMin(2.5), TypeError, "n_components"),
    (lambda: E.AltMin(3, steps="abc"), TypeError, "steps"),
    (lambda: E.AltMin(0), ValueError, "n_components"),
    (lambda: E.FedRep(True), TypeError, "n_components"),
    (lambda: E.FOANIL(2, m_in=0), ValueError, "m_in"),
    (lambda: E.FOANIL(2, m_in=2.0), TypeError, "m_in"),
    (lambda: E.FOANIL(2, m_in=8), ValueError, "m_in"),
    (lambda: E.MAML(2, steps=-1), ValueError, "steps"),
    (lambda: E.MAML(2, tau=0), ValueError, "tau"),
    (lambda: E.MAML(2, alpha=float("nan")), ValueError, "alpha"),
    (lambda: E.MAML(2, beta=float("inf")), ValueError, "beta"),
    (lambda: E.MAML(2, beta=-0.1), ValueError, "beta"),
    (lambda: E.MAML(2, beta="0.1"), TypeError, "beta"),
    (lambda: E.ERM(2, batch_tasks=-1), ValueError, "batch_tasks"),
    (lambda: E.ERM(2, batch_tasks=13), ValueError, "batch_tasks"),
    (lambda: E.Reptile(2, init="orthogonal"), ValueError, "init"),
    (lambda: E.Reptile(2, init=None), TypeError, "init"),
    (lambda: E.Reptile(2, verbose=-1), ValueError, "verbose"),
    (lambda: E.MethodOfMoments(6), ValueError, "n_components"),
    (lambda: E.MethodOfMoments(2, random_state=-1), ValueError, "random_state"),
    (lambda: E.MethodOfMoments(2, random_state=1.5), TypeError, "random_state"),
    (lambda: E.MethodOfMoments(2, random_state="0"), TypeError, "random_state"),
])
def test_each_bad_hyperparameter_is_named_before_anything_runs(make, error, name):
    X, y, _ = synthetic()  # 12 tasks of 8 samples, d = 5
    with pytest.raises(error, match=name) as err:
        make().fit(X, y)
    assert "\n" not in str(err.value)


def test_an_impossible_size_is_refused_at_once(monkeypatch):
    """The CLI's budget (linmeta.budget): 10¹² steps exceed the time limit, and 10⁵ tasks of
    10³ samples in 10⁴ dimensions (a broadcast view, nothing allocated) the memory."""
    monkeypatch.delenv(MAX_HOURS_ENV, raising=False)
    X, y, _ = synthetic()
    with pytest.raises(BudgetError, match="AltMin: .* lower steps"):
        E.AltMin(2, steps=10**12).fit(X, y)
    with pytest.raises(BudgetError, match="lower steps or tau"):
        E.FOANIL(2, steps=10**6, tau=10**6).fit(X, y)
    huge = np.broadcast_to(np.float64(1.0), (10**5, 10**3, 10**4))
    with pytest.raises(BudgetError, match="memory.*lower the tasks, samples per task"):
        E.FedRep(2).fit(huge, np.broadcast_to(np.float64(0.0), (10**5, 10**3)))


# ---------------------------------------------------------------- data


def bad(kind):
    """(X, y) of one kind of bad data, made from 12 tasks of 8 samples in d = 5."""
    X, y, _ = synthetic()
    return {
        "complex X": (X + 1j, y),
        "complex y": (X, y * 1j),
        "complex task": ([X[0], X[1] * 1j], [y[0], y[1]]),
        "sparse": (scipy.sparse.csr_matrix(X[0]), y),
        "NaN": (np.where(X > 1, np.nan, X), y),
        "inf in y": (X, np.where(y > 1, np.inf, y)),
        "2-D": (X[0], y),
        "y of the wrong shape": (X, y[:, :5]),
        "no tasks": (X[:0], y[:0]),
        "no features": (X[..., :0], y),
        "an empty task": ([X[0], X[1, :0]], [y[0], y[1, :0]]),
        "no y": (X, None),
        "text": (np.full(X.shape, "a"), y),
        "one sample": (X[:, :1], y[:, :1]),
        "a task of one sample": ([X[0], X[1, :1]], [y[0], y[1, :1]]),
    }[kind]


@pytest.mark.parametrize("cls, kind, error, message", [
    (E.FedRep, "complex X", DataError, "Complex data not supported: X is complex"),
    (E.FedRep, "complex y", DataError, "Complex data not supported: y is complex"),
    (E.FedRep, "complex task", DataError, r"X\[1\] is complex"),
    (E.FedRep, "sparse", TypeError, "Sparse data was passed for X"),
    (E.FedRep, "NaN", DataError, "X of task 0 holds NaN or infinite"),
    (E.FedRep, "inf in y", DataError, "y of task 0 holds NaN or infinite"),
    (E.FedRep, "2-D", DataError, r"shape \(tasks, m, d\)"),
    (E.FedRep, "y of the wrong shape", DataError, r"y \(tasks, m\)"),
    (E.FedRep, "no tasks", DataError, "no tasks"),
    (E.FedRep, "no features", DataError, "no features"),
    (E.FedRep, "an empty task", DataError, "task 1 has no samples"),
    (E.FedRep, "no y", ValueError, "requires y"),
    (E.FedRep, "text", DataError, "numeric"),
    (E.AltMin, "one sample", DataError, "m >= 2"),
    (E.FOANIL, "a task of one sample", DataError, "m >= 2"),
])
def test_each_kind_of_bad_data_is_refused_in_one_line(cls, kind, error, message):
    with pytest.raises(error, match=message) as err:
        small(cls).fit(*bad(kind))
    assert "\n" not in str(err.value)


def test_ragged_tasks_fit_transform_and_score():
    X, y, _ = synthetic(n=6, m=8)
    Xs, ys = [X[i, : 3 + i] for i in range(6)], [y[i, : 3 + i] for i in range(6)]
    est = E.FedRep(2, steps=5, random_state=0).fit(Xs, ys)
    features = est.transform(Xs)
    assert [f.shape for f in features] == [(3 + i, 2) for i in range(6)]
    assert np.isfinite(est.score(Xs, ys))
    with pytest.raises(DataError, match="score needs m >= 2"):
        est.score([X[0, :1]], [y[0, :1]])


# ---------------------------------------------------------------- random_state


def test_every_kind_of_random_state():
    """An integer is the simulator's seed (its B0, bit for bit); a RandomState or Generator
    gives reproducible fits from a fresh instance and new ones from the same instance; None
    follows numpy's global RandomState (np.random.seed), as scikit-learn does."""
    X, y, _ = synthetic()
    est = E.FOANIL(2, steps=5, alpha=0.1, beta=0.1, random_state=7).fit(X, y)
    B0, w0 = draw_init(generator(streams(7)["problem"]), 1, 5, 2, "collins", 0.1, 0.0)
    given = E.FOANIL(2, steps=5, alpha=0.1, beta=0.1).fit(X, y, B0=B0[0], w0=w0[0])
    assert np.array_equal(est.B_, given.B_) and est.seed_ == 7
    for make in (np.random.RandomState, np.random.default_rng):
        a = E.AltMin(2, steps=3, random_state=make(1)).fit(X, y)
        b = E.AltMin(2, steps=3, random_state=make(1)).fit(X, y)
        assert np.array_equal(a.B_, b.B_) and a.seed_ == b.seed_
        first = a.B_.copy()
        assert not np.allclose(a.fit(X, y).B_, first)  # the same instance draws on
    np.random.seed(3)
    a = E.AltMin(2, steps=3).fit(X, y).B_
    np.random.seed(3)
    assert np.array_equal(E.AltMin(2, steps=3).fit(X, y).B_, a)
    assert np.isfinite(E.AltMin(2, steps=3, random_state=np.int64(5)).fit(X, y).B_).all()


# ---------------------------------------------------------------- divergence, verbose


def test_divergence_warns_with_the_step_and_what_to_lower():
    X, y, _ = synthetic(n=10, m=6, d=5, k=2, sigma=0.0)
    with pytest.warns(ConvergenceWarning,
                      match=r"FOMAML diverged at step \d+ of 100.*lower beta .*or alpha"):
        est = E.FOMAML(2, random_state=0).fit(X, y)
    assert est.diverged_ and np.isfinite(est.B_).all() and np.isfinite(est.heads_).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converging fit is silent
        assert not E.FOMAML(2, alpha=0.1, beta=0.1, random_state=0).fit(X, y).diverged_


def test_verbose_reports_progress_to_stderr_only_when_asked(capsys):
    X, y, _ = synthetic()
    E.FedRep(2, steps=4, random_state=0).fit(X, y)
    assert capsys.readouterr() == ("", "")
    E.FedRep(2, steps=4, random_state=0, verbose=2).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and err.count("FedRep: step") == 4 and "4 steps in" in err
    E.FedRep(2, steps=4, random_state=0, verbose=1).fit(X, y)  # every 2 s, and at the end
    assert "FedRep: 4 steps in" in capsys.readouterr().err


# ---------------------------------------------------------------- score, model selection


def test_score_is_one_on_noise_free_tasks_in_the_learned_subspace():
    """σ = 0 and col(B_) = col(B*): each new task's head fitted on half its samples predicts
    the other half exactly (R² = 1); a basis orthogonal to B* predicts nothing (R² ≤ 0)."""
    X, y, B_star = synthetic(n=35, m=10, d=6, k=2, sigma=0.0)
    est = E.FedRep(2, steps=100, random_state=0).fit(X[:30], y[:30])
    assert subspace_distance(est.B_, B_star) < 1e-6
    assert est.score(X[30:], y[30:]) == pytest.approx(1.0, abs=1e-9)
    est.B_ = np.linalg.svd(np.eye(6) - B_star @ B_star.T)[0][:, :2]  # ⟂ col(B*)
    assert est.score(X[30:], y[30:]) <= 0.0


def test_grid_search_over_tasks_picks_the_true_width():
    """GridSearchCV splits the tasks (3 folds of 20 of 60 tasks, m = 10, d = 10, true k = 3,
    σ = 0.5): R² on held-out tasks is best at k = 3 (k < 3 misses directions; k > 3 fits
    noise with 5 samples per head)."""
    X, y, _ = synthetic(seed=0, n=60, m=10, d=10, k=3, sigma=0.5)
    grid = GridSearchCV(E.FedRep(1, steps=60, random_state=0),
                        {"n_components": [1, 2, 3, 4, 5]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"n_components": 3}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[2] > max(scores[[0, 1, 3, 4]]) + 0.05
    assert grid.best_estimator_.B_.shape == (10, 3)
    folds = cross_val_score(E.MethodOfMoments(3), X, y, cv=3)
    assert folds.shape == (3,) and np.isfinite(folds).all()


def test_pipeline():
    """A pipeline of a scaling, MoM (d → 4) and FedRep (4 → 2) on tasks; its score is the
    last step's score on the transformed tasks."""
    X, y, _ = synthetic(n=20, m=10, d=8, k=2, sigma=0.1)
    pipe = Pipeline([("scale", FunctionTransformer(lambda Z: Z / 2.0)),
                     ("mom", E.MethodOfMoments(4)),
                     ("fedrep", E.FedRep(2, steps=20, random_state=0))]).fit(X, y)
    assert pipe.transform(X).shape == (20, 10, 2)
    features = pipe[:-1].transform(X)
    assert pipe.score(X, y) == pytest.approx(pipe[-1].score(features, y))
    assert clone(pipe).set_params(fedrep__n_components=3).fit(X, y)[-1].B_.shape == (4, 3)
