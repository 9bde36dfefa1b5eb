"""Config fields with their help and check (linmeta.fields), as both configs declare them."""

from __future__ import annotations

import dataclasses

import pytest

from linmeta.config import Config, ConfigError
from linmeta.fewshot.engine.train import TrainConfig
from linmeta.fields import check_fields, field, one_of


@dataclasses.dataclass(frozen=True)
class Pair:
    a: int = field(1, "First.", lambda name, v: None if v > 0 else f"{name} must be > 0")
    b: str = field("x", "Second.", one_of(("x", "y")))
    c: bool = field(False)


def test_the_first_refused_field_in_declaration_order_is_reported():
    check_fields(Pair(), ValueError)
    with pytest.raises(ValueError, match="^unknown b 'z'; choose from x, y$"):
        check_fields(Pair(b="z"), ValueError)
    with pytest.raises(ValueError, match="^a must be > 0$"):
        check_fields(Pair(a=0, b="z"), ValueError)


def test_metadata_gives_help_and_the_choices_of_a_one_of_check():
    a, b, c = dataclasses.fields(Pair)
    assert (a.metadata["help"], a.metadata["choices"]) == ("First.", None)
    assert (b.metadata["help"], b.metadata["choices"]) == ("Second.", ("x", "y"))
    assert (c.metadata["help"], c.metadata["check"]) == ("", None)


@pytest.mark.parametrize("cls, error, changes, message", [
    (Config, ConfigError, dict(tau=0), "tau must be a positive integer, got 0"),
    (Config, ConfigError, dict(head_kappa=0.5), "head_kappa must be a finite number >= 1"),
    (Config, ConfigError, dict(dtype="float16"), "unknown dtype 'float16'; choose 'float64' or"),
    (TrainConfig, ValueError, dict(n_way=1), "n_way must be >= 2 (a 1-way task is solved by"),
    (TrainConfig, ValueError, dict(outer_lr=0.0), "outer_lr must be > 0.0, got 0.0"),
    (TrainConfig, ValueError, dict(loss=3), "loss must be a string, got 3"),
    (TrainConfig, ValueError, dict(image_size=None, seed=None), "seed must be given, got None"),
])
def test_both_configs_check_their_fields_from_the_table(cls, error, changes, message):
    with pytest.raises(error) as err:
        cls(**changes).validate() if cls is TrainConfig else cls(**changes)
    assert str(err.value).startswith(message)
