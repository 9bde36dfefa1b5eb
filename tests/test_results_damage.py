"""A damaged metrics.csv is refused whatever the damage: config.json records its checksum."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linmeta.config import Config
from linmeta.experiment import run
from linmeta.results import ResultError, read_metrics, save_result


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "result"
    save_result(run(Config(d=5, k=2, steps=3, trials=2, n_test_tasks=2,
                           methods=("fo_anil", "erm"))), out)
    return out


def test_config_records_the_checksum_and_rows_per_method(saved):
    meta = json.loads((saved / "config.json").read_text())
    rows = (saved / "metrics.csv").read_text().splitlines()[1:]
    counts = {m: sum(r.startswith(m + ",") for r in rows) for m in ("fo_anil", "erm")}
    assert meta["metrics_csv"]["rows"] == counts and len(meta["metrics_csv"]["sha256"]) == 64
    assert read_metrics(saved)  # the whole file reads


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(0.0, 1.0, exclude_max=True))
def test_no_truncation_passes_as_whole(saved, tmp_path, frac):
    text = (saved / "metrics.csv").read_bytes()
    cut = int(frac * len(text))
    d = tmp_path / f"cut{cut}"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_bytes((saved / "config.json").read_bytes())
    (d / "metrics.csv").write_bytes(text[:cut])
    with pytest.raises(ResultError):
        read_metrics(d)


def test_results_without_a_checksum_still_read(saved, tmp_path):
    """Results written before the checksum existed are read as before."""
    meta = json.loads((saved / "config.json").read_text())
    del meta["metrics_csv"]
    (tmp_path / "config.json").write_text(json.dumps(meta))
    (tmp_path / "metrics.csv").write_bytes((saved / "metrics.csv").read_bytes())
    assert read_metrics(tmp_path).keys() == read_metrics(saved).keys()
