"""linmeta: a research simulator for the theory of meta-learning."""

__version__ = "0.1.0"
