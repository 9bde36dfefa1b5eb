"""linmeta: a research simulator for the theory of meta-learning.

The names a notebook needs, imported on first use (``import linmeta`` stays light):

- ``Config``, ``run``: the linear simulator (:mod:`linmeta.config`, :mod:`linmeta.experiment`);
- ``save_result``, ``load_result``: result directories (:mod:`linmeta.results`);
- ``METHODS``, ``get_method``, ``Method``: the registry of methods and the protocol every
  entry satisfies (:mod:`linmeta.algorithms`);
- the estimators on a user's ``(X, y)``: ``MethodOfMoments``, ``MultiTaskERM``, ``AltMin``,
  ``FedRep``, ``MAML``, ``FOMAML``, ``ANIL``, ``FOANIL``, ``ERM``, ``Reptile``
  (:mod:`linmeta.estimators`).

Example
-------
>>> import linmeta
>>> result = linmeta.run(linmeta.Config(steps=20, trials=1, methods=("fo_anil", "erm")))
>>> bool(result.runs["fo_anil"].metrics["dist"][0, -1] < result.runs["erm"].metrics["dist"][0, -1])
True
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "config", "run": "experiment",
    "save_result": "results", "load_result": "results",
    "METHODS": "algorithms", "get_method": "algorithms", "Method": "algorithms",
    **{name: "estimators" for name in ("MethodOfMoments", "MultiTaskERM", "AltMin", "FedRep",
                                       "MAML", "FOMAML", "ANIL", "FOANIL", "ERM", "Reptile")},
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'linmeta' has no attribute {name!r}")
