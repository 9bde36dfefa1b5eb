"""Meta-training: a frozen config, one pure outer step, the training loop, and runs with exact
resume.

:func:`train_loop` is the one training loop: a generator of ``(state, info)`` per outer step
that calls a snapshot hook when a metrics row or a checkpoint is due; :func:`run` consumes it.

A run directory holds ``config.json``, ``metrics.csv`` (train and validation loss/accuracy over
time), ``learning_curve.png``, ``checkpoints/step_XXXXXXX.npz`` and, at the end, ``results.json``
(test accuracy); ``split.json`` records the classes of each split. Every file is written
atomically. A checkpoint stores the parameters, Adam's state, the episode generator's state and
the running training averages, so ``resume`` continues bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from linmeta.backend import get_dtype, get_xp, to_numpy
from linmeta.fields import Check, check_fields, field, one_of
from linmeta.io import atomic_savefig, atomic_savez, atomic_write_text, read_table, write_records
from linmeta.provenance import provenance
from linmeta.results import exclusive_dir, make_dir

from ..data import DATASETS, GENERATED, default_split, load_dataset
from ..data.episodes import sample_episodes, stream
from .budget import check_fewshot
from .evaluate import evaluate
from .layers import LOSSES
from .meta import ALGORITHMS, InnerSpec, canonical_name, get_algorithm, zero_head
from .network import BLOCK_ORDERS, DOWNSAMPLES, conv4, flatten_tree, init_params, unflatten_tree
from .optim import AdamState, Optimizer, adam
from .parallel import meta_gradient_threads


class RunError(ValueError):
    """A run directory or checkpoint that cannot be used (one-line message)."""


#: The kinds of value a field holds: ``kind -> (test, what a value must be)``.
_KINDS = {
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
            "an integer"),
    "float": (lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool),
              "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
}


def _value(kind: str, then: Check | None = None, optional: bool = False) -> Check:
    """A value of ``kind`` (None only if ``optional``) that ``then`` accepts."""
    test, what = _KINDS[kind]

    def check(name: str, value) -> str | None:
        if value is None:
            return None if optional else f"{name} must be given, got None"
        if not test(value):
            return f"{name} must be {what}, got {value!r}"
        return then(name, value) if then is not None else None

    check.choices = getattr(then, "choices", None)
    return check


def _integer(low: int = 0, why: str = "", optional: bool = False) -> Check:
    """An integer >= ``low``; ``why`` says why in the refusal."""

    def bound(name: str, value) -> str | None:
        if value >= low:
            return None
        return f"{name} must be >= {low}{f' ({why})' if why else ''}, got {value}"

    return _value("int", bound, optional)


def _number(low: float = -np.inf, strict: bool = False) -> Check:
    """A finite number >= ``low`` (> ``low`` if ``strict``)."""

    def bound(name: str, value) -> str | None:
        if not np.isfinite(value):
            return f"{name} must be a finite number, got {value}"
        if value < low or (strict and value == low):
            return f"{name} must be {'>' if strict else '>='} {low}, got {value}"
        return None

    return _value("float", bound)


def _choice(choices) -> Check:
    """A string among ``choices``."""
    return _value("str", one_of(choices, "unknown {name} {value!r}; choose one of {choices}"))


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a meta-training run (Finn17's Omniglot setup, scaled down).

    Each field carries its check and its line of ``linmeta fewshot train --help``
    (:func:`linmeta.fields.field`; fields without help, such as ``dtype``, have no option).
    """

    algorithm: str = field("maml", "Meta-learning algorithm.",
                           _choice(ALGORITHMS))  # aliases: fomaml, foanil
    n_way: int = field(5, "Classes per task.",
                       _integer(2, "a 1-way task is solved by any network"))
    k_shot: int = field(1, "Support examples per class.", _integer(1))
    n_query: int = field(5, "Query examples per class.", _integer(1))
    meta_batch: int = field(8, "Tasks per outer step.", _integer(1))
    steps: int = field(300, "Outer steps (total, also when resuming).", _integer())
    inner_lr: float = field(0.4, "Inner learning rate α.", _number(0.0))  # Finn17 Omniglot
    inner_steps: int = field(1, "Inner steps during meta-training.", _integer())
    inner_steps_test: int = field(3, "Inner steps at validation and test time.", _integer())
    outer_lr: float = field(1e-3, "Adam learning rate.", _number(0.0, strict=True))
    loss: str = field("ce", "Loss.", _choice(LOSSES))
    zeroing: bool = field(False, "Kao22's zeroing trick: head set to 0 after every outer step "
                          "and before test-time adaptation.", _value("bool"))
    head_init: str = field("random", "Head initialisation.", _choice(("random", "zero")))
    head_scale: float = field(1.0, "Scale s of a random head.", _number(0.0))
    channels: int = field(32, "Conv-4 channels (Finn17: 64 Omniglot, 32 mini-ImageNet).",
                          _integer(1))
    block_order: str = field("finn", "Conv block: finn = conv→BN→pool→ReLU (Finn17, Raghu20); "
                             "kao = conv→ReLU→BN→pool with the last block ending in BN (Kao22's "
                             "code).", _choice(BLOCK_ORDERS))
    downsample: str = field("pool", "pool = 2×2 max-pool per block; stride = Kao22's stride-2 "
                            "Omniglot convs without pooling (needs --block-order kao).",
                            _choice(DOWNSAMPLES))
    dataset: str = field("glyphs", "Data source.", _choice(DATASETS))
    data_path: str | None = field(None, "Folder or file of on-disk data.",
                                  _value("str", optional=True))
    image_size: int | None = field(None, "Image side after resizing (28; 84 for mini-ImageNet).",
                                   _integer(16, "Conv-4 halves it four times", optional=True))
    n_classes: int = field(1623, "Number of glyph classes (glyphs, omniglyphs).", _integer(1))
    split_seed: int = field(0, "Seed of the train/val/test class split (not changed by --seed).",
                            _integer())
    rotations: bool = field(False, "Add every class turned by 90, 180 and 270° as three new "
                            "classes of the same split (Finn17).", _value("bool"))
    invert: bool = field(False, "Use 255 - pixel: dark strokes on a light background, as "
                         "Kao22's Omniglot loader gives them (the sets here have ink = 255 "
                         "on 0).", _value("bool"))
    seed: int = field(0, "Seed of initialisation and episodes.", _integer())
    eval_every: int = field(25, "Validation (metrics.csv row) every N steps.", _integer(1))
    val_tasks: int = field(100, "Validation tasks per row.", _integer(1))
    ckpt_every: int = field(100, "Checkpoint every N steps.", _integer(1))
    test_tasks: int = field(600, "Test tasks at the end (0: none).", _integer())
    backend: str = field("numpy", "Array backend.", _choice(("numpy", "cupy")))
    dtype: str = field("float32", check=_choice(("float32", "float64")))
    workers: int = field(1, "Threads over the tasks of a meta-batch (e.g. 2 on 2 cores; results "
                         "then differ from 1 worker in the last bits).",
                         _integer(1))  # linmeta.fewshot.engine.parallel

    def __post_init__(self):
        # one spelling: an alias ('fomaml') is stored as the registry's name ('fo_maml'), so
        # configs and checkpoints written with either spelling compare equal
        object.__setattr__(self, "algorithm", canonical_name(self.algorithm))

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` with a one-line message for an invalid or inconsistent config:
        each field's check (in field order), then the checks across fields."""
        check_fields(self, ValueError)
        get_algorithm(self.algorithm)
        if self.dataset in GENERATED and self.data_path is not None:
            raise ValueError("data_path is for on-disk datasets; the glyphs are generated "
                             "(give --dataset omniglot|miniimagenet|npz, or no --data-path)")
        if self.dataset not in GENERATED and self.data_path is None:
            raise ValueError(f"dataset {self.dataset!r} needs a path (--data-path)")
        if self.dataset in GENERATED:
            default_split(self.n_classes * (4 if self.rotations else 1), self.n_way)
        if self.downsample == "stride" and self.block_order != "kao":
            raise ValueError("downsample 'stride' is Kao22's net; it needs block_order 'kao'")
        return self

    def inner(self, steps: int | None = None) -> InnerSpec:
        """The inner loop of this run, with τ = ``steps`` (default: ``inner_steps``)."""
        return InnerSpec.named(self.algorithm, lr=self.inner_lr, loss=self.loss,
                               steps=self.inner_steps if steps is None else steps)

    def optimizer(self) -> Optimizer:
        """The outer optimiser of this run: Adam at rate ``outer_lr``."""
        return adam(self.outer_lr)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k != "provenance"}  # written beside the fields
        unknown = set(d) - names
        if unknown:
            raise RunError(f"unknown config keys {sorted(unknown)}")
        return cls(**d).validate()


class TrainState(NamedTuple):
    """What a checkpoint restores: step, parameters, Adam, the episode generator, running sums."""

    step: int
    params: dict
    adam: AdamState
    rng: np.random.Generator
    running: tuple  # (sum of train loss, sum of train acc, count) since the last metrics row


# ---------------------------------------------------------------------------- setup


def build(config: TrainConfig):
    """``(net, data, xp, dtype)`` for a config; data is ``{split: uint8 class pool}``."""
    xp = get_xp(config.backend)
    dtype = get_dtype(config.dtype)
    data = load_dataset(config.dataset, config.data_path, split_seed=config.split_seed,
                        image_size=config.image_size, n_classes=config.n_classes,
                        n_way=config.n_way, rotations=config.rotations, invert=config.invert)
    per_class, h, w, c = data["train"].shape[1:]
    if h != w:
        raise ValueError(f"images must be square, got {h}x{w}")
    if config.k_shot + config.n_query > per_class:
        raise RunError(f"k_shot + n_query = {config.k_shot + config.n_query} images per class "
                       f"are needed, the data has {per_class} per class")
    net = conv4(config.n_way, config.channels, h, c, block_order=config.block_order,
                downsample=config.downsample)
    return net, data, xp, dtype


def init_state(config: TrainConfig, net, xp, dtype) -> TrainState:
    """Fresh parameters (He body; head random·s, zero, or zeroed by the trick) and Adam."""
    params = init_params(net, stream(config.seed, "init"), config.head_init, config.head_scale,
                         dtype, xp)
    if config.zeroing:
        params = zero_head(net, params)
    return TrainState(0, params, config.optimizer().init(params), stream(config.seed, "train"),
                      (0.0, 0.0, 0))


def train_step(net, state: TrainState, config: TrainConfig, pool, xp, dtype):
    """One outer step: sample a meta-batch, meta-gradient, Adam, zeroing trick if on.

    Returns ``(new_state, info)`` with the meta-batch's post-adaptation query loss and accuracy.
    """
    ep = sample_episodes(pool, state.rng, config.meta_batch, config.n_way, config.k_shot,
                         config.n_query, dtype=dtype, xp=xp)
    grads, info = meta_gradient_threads(net, state.params, ep, config.inner(),
                                        workers=config.workers)
    params, opt_state = config.optimizer().update(grads, state.adam, state.params)
    if config.zeroing:
        params = zero_head(net, params)
    s, a, n = state.running
    running = (s + info["loss"], a + info["acc"], n + 1)
    return TrainState(state.step + 1, params, opt_state, state.rng, running), info


def train_loop(net, state: TrainState, config: TrainConfig, pool, xp, dtype,
               snapshot: Callable[[TrainState, str], None] | None = None,
               ) -> Iterator[tuple[TrainState, dict]]:
    """Yield ``(state, info)`` after every outer step (:func:`train_step`) up to ``config.steps``.

    Before a state is yielded, ``snapshot(state, "metrics")`` is called at the last step and
    every ``eval_every`` steps, after which the running training sums restart; then
    ``snapshot(state, "checkpoint")`` at the last step and every ``ckpt_every`` steps (so a
    checkpoint holds the sums since the last metrics row).
    """
    while state.step < config.steps:
        state, info = train_step(net, state, config, pool, xp, dtype)
        last = state.step == config.steps
        if last or state.step % config.eval_every == 0:
            if snapshot is not None:
                snapshot(state, "metrics")
            state = state._replace(running=(0.0, 0.0, 0))
        if (last or state.step % config.ckpt_every == 0) and snapshot is not None:
            snapshot(state, "checkpoint")
        yield state, info


def eval_kwargs(config: TrainConfig, inner_steps=None) -> dict:
    """Keyword arguments of :func:`~linmeta.fewshot.engine.evaluate.evaluate` for this config: its
    inner loop with τ = ``inner_steps`` (default ``inner_steps_test``), task shape, zeroing."""
    steps = config.inner_steps_test if inner_steps is None else inner_steps
    return dict(spec=config.inner(steps), n_way=config.n_way, k_shot=config.k_shot,
                n_query=config.n_query, zeroing=config.zeroing)


# ---------------------------------------------------------------------------- files


METRIC_FIELDS = ("step", "train_loss", "train_acc", "val_loss", "val_acc", "val_ci95",
                 "elapsed_s")


def write_metrics(path: Path, rows: list) -> None:
    """The learning curve's rows (dicts of :data:`METRIC_FIELDS`) to ``metrics.csv``."""
    write_records(path, rows, METRIC_FIELDS)


def read_metrics(path: Path) -> list:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "step" else float(v) if v != "" else "")
                 for k, v in row.items()} for row in csv.DictReader(f)]


def save_checkpoint(path: Path, state: TrainState, config: TrainConfig) -> None:
    """Parameters, Adam moments and count, generator state, running sums, config (``.npz``)."""
    arrays = {}
    arrays.update(flatten_tree(_host(state.params), "params/"))
    arrays.update(flatten_tree(_host(state.adam.m), "adam_m/"))
    arrays.update(flatten_tree(_host(state.adam.v), "adam_v/"))
    arrays["adam_t"] = np.array(state.adam.t)
    arrays["step"] = np.array(state.step)
    arrays["running"] = np.array(state.running[:2], dtype=np.float64)
    arrays["running_n"] = np.array(state.running[2])
    arrays["rng_state"] = np.array(json.dumps(state.rng.bit_generator.state))
    arrays["config"] = np.array(config.to_json())
    atomic_savez(path, arrays)


def _host(tree):
    return {n: {k: to_numpy(a) for k, a in d.items()} for n, d in tree.items()}


def load_checkpoint(path, xp=np):
    """``(state, config)`` from a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            flat = {k: f[k] for k in f.files}
        config = TrainConfig.from_dict(json.loads(str(flat["config"])))
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(flat["rng_state"]))

        def dev(t):
            return {n: {k: xp.asarray(a) for k, a in d.items()} for n, d in t.items()}

        state = TrainState(
            int(flat["step"]),
            dev(unflatten_tree(flat, "params/")),
            AdamState(int(flat["adam_t"]), dev(unflatten_tree(flat, "adam_m/")),
                      dev(unflatten_tree(flat, "adam_v/"))),
            rng,
            (float(flat["running"][0]), float(flat["running"][1]), int(flat["running_n"])),
        )
    except FileNotFoundError:
        raise RunError(f"no such checkpoint: {path}") from None
    except RunError:
        raise
    except Exception as err:
        raise RunError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from None
    return state, config


def read_run_config(out) -> TrainConfig:
    """The config of the run in directory ``out`` (its ``config.json``)."""
    path = Path(out) / "config.json"
    return TrainConfig.from_dict(read_table(path, RunError, "json",
                                            missing=f"nothing to resume: {path} does not exist"))


def latest_checkpoint(out: Path) -> Path | None:
    ckpts = sorted((Path(out) / "checkpoints").glob("step_*.npz"))
    return ckpts[-1] if ckpts else None


# ---------------------------------------------------------------------------- the run


def run(config: TrainConfig, out, *, resume: bool = False, progress=None) -> dict:
    """Meta-train into directory ``out``; returns a summary dict (also in ``results.json``).

    ``progress(step, info)`` is called after every outer step (the CLI's progress bar).
    With ``resume``, the latest checkpoint in ``out`` is loaded and training continues to
    ``config.steps``; metrics rows after the checkpoint are dropped, so the run's files end up
    as if it had never stopped. A run stopped before its first checkpoint resumes from step 0
    (its initial state is a function of the config). The directory is locked for the run: a
    second writer gets :class:`~linmeta.results.ResultError`.
    """
    config.validate()
    check_fewshot(config)
    out = Path(out)
    _claim(config, out, resume)  # fails fast, before the data are loaded
    created = not out.exists()
    make_dir(out)
    try:
        net, data, xp, dtype = build(config)
    except BaseException:
        if created:  # leave no empty directory behind a refused run
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    with exclusive_dir(out, "few-shot run"):
        ckpt = _claim(config, out, resume)  # again, now that no other process can write here
        return _train(config, out, resume, ckpt, net, data, xp, dtype, progress)


def _claim(config: TrainConfig, out: Path, resume: bool) -> Path | None:
    """Check that ``out`` can take this run; returns the checkpoint to resume from (or None)."""
    if resume and not out.is_dir():
        raise RunError(f"nothing to resume: {out} does not exist")
    ckpt = latest_checkpoint(out)
    if resume:
        if ckpt is None:  # stopped before its first checkpoint: start again from step 0
            saved = read_run_config(out)
        else:
            _, saved = load_checkpoint(ckpt)
        if dataclasses.replace(saved, steps=config.steps) != config:
            raise RunError(f"config differs from the run in {out}; only steps may change")
    elif ckpt is not None or (out / "metrics.csv").exists():
        raise RunError(f"{out} already holds a run; use --resume or another directory")
    return ckpt


def _train(config, out, resume, ckpt, net, data, xp, dtype, progress) -> dict:
    """The training loop of :func:`run`, with the directory locked."""
    from .plotting import plot_learning_curve  # here, so that the CLI starts without matplotlib

    if ckpt is not None:
        state, _ = load_checkpoint(ckpt, xp)
    else:
        state = init_state(config, net, xp, dtype)
    rows = [r for r in read_metrics(out / "metrics.csv") if r["step"] <= state.step] \
        if resume else []
    (out / "checkpoints").mkdir(exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(
        {**dataclasses.asdict(config), "provenance": provenance()}, indent=2, sort_keys=True)
        + "\n")
    atomic_write_text(out / "split.json", json.dumps(data.split) + "\n")
    t0 = time.perf_counter() - (rows[-1]["elapsed_s"] if rows else 0.0)
    title = (f"{config.algorithm}, {config.n_way}-way {config.k_shot}-shot, {config.dataset}"
             f"{', zeroing' if config.zeroing else ''}")
    val_kw = eval_kwargs(config)

    def snapshot(st: TrainState, kind: str) -> None:
        if kind == "checkpoint":
            save_checkpoint(out / "checkpoints" / f"step_{st.step:07d}.npz", st, config)
            return
        s, a, n = st.running
        ev = evaluate(net, st.params, data["val"], tasks=config.val_tasks, seed=config.seed,
                      dtype=dtype, xp=xp, **val_kw)
        rows.append({"step": st.step, "train_loss": s / n if n else "",
                     "train_acc": a / n if n else "", "val_loss": ev.loss, "val_acc": ev.acc,
                     "val_ci95": ev.ci95, "elapsed_s": round(time.perf_counter() - t0, 3)})
        write_metrics(out / "metrics.csv", rows)
        atomic_savefig(plot_learning_curve(rows, title), out / "learning_curve.png", dpi=100)

    if state.step == 0 and not rows:
        snapshot(state, "metrics")
    loop = train_loop(net, state, config, data["train"], xp, dtype, snapshot)
    for state, info in loop:
        if progress is not None:
            progress(state.step, info)
    summary = {"step": state.step, "val_acc": rows[-1]["val_acc"] if rows else None}
    if config.test_tasks:
        ev = evaluate(net, state.params, data["test"], tasks=config.test_tasks,
                      seed=config.seed + 1, dtype=dtype, xp=xp, **val_kw)
        summary.update(test_acc=ev.acc, test_ci95=ev.ci95, test_loss=ev.loss,
                       test_tasks=ev.tasks)
    atomic_write_text(out / "results.json", json.dumps(summary, indent=2) + "\n")
    return summary
