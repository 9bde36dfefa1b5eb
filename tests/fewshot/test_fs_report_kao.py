"""The claims report's criteria, sources, kao-omniglot section and cosine probe, on made-up
point files (so every expected verdict follows from the numbers written here)."""

import copy

import numpy as np
import pytest

from linmeta.fewshot.claims import report

CRIT = report.load_criteria()


def _point(acc1, acc3, gains=(0.05,), steps=(500,)):
    """A point with test accuracies and one test_zeroed column per checkpoint."""
    cols = [{"step": s, "model": {"1": {"acc": acc1}, "3": {"acc": acc3}},
             "zeroed": {"1": {"acc": acc1 + g}, "3": {"acc": acc3 + g / 2}}}
            for s, g in zip(steps, gains, strict=True)]
    return {"test": {"1": {"acc": acc1}, "3": {"acc": acc3}}, "test_zeroed": cols,
            "diagnosis": [{"mean_direction_share": 0.01, "body_share": 0.5}]}


def _kao(gain):
    rng = np.random.default_rng(0)
    steps = tuple(range(500, 3001, 500))
    pts = {}
    for name, base in (("omni-fo-random", 0.88), ("omni-fo-half", 0.885),
                       ("omni-fo-zeroinit", 0.886), ("omni-fo-zeroing", 0.94)):
        pts[name] = {k: _point(base + 0.002 * rng.standard_normal(), base + 0.02,
                               tuple(gain + 0.003 * rng.standard_normal() for _ in steps), steps)
                     for k in range(4)}
    return pts


def test_the_report_prints_every_rule_and_band_with_its_reason():
    md = report.render({}, "figs", crit=CRIT)
    for name, b in CRIT["bands"].items():
        assert f"| `{name}` |" in md
        assert " ".join(b["reason"].split())[:60] in md
    for rule in CRIT["rules"].values():
        assert " ".join(rule.split())[:60] in md
    assert "60,000" not in md and "60k" not in md


def test_every_claim_names_its_source():
    rows = {r["id"]: r for r in report.claims({}, CRIT)}
    assert {k: rows[k]["source"] for k in "acf"} == dict.fromkeys("acf", "slides")
    assert {k: rows[k]["source"] for k in "bdeg"} == dict.fromkeys("bdeg", "kao22")
    assert {rows[k]["source"] for k in "hijkl"} == {"raghu20"}
    assert all(r["source"] in CRIT["sources"] for r in rows.values())


def test_a_band_read_from_the_criteria_decides_the_verdict():
    ma = {k: {"test": {"3": {"acc": 0.90 + 0.001 * k}}} for k in range(3)}
    an = {k: {"test": {"3": {"acc": 0.915 + 0.001 * k}}} for k in range(3)}  # ANIL − MAML 1.5
    pts = {"kao-maml": ma, "kao-anil": an}
    h = next(r for r in report.claims(pts, CRIT) if r["id"] == "h")
    assert h["verdict"].startswith("kao: holds")  # inside the 2.5-point band
    tight = copy.deepcopy(CRIT)
    tight["bands"]["anil_maml"]["value"] = 0.01
    h = next(r for r in report.claims(pts, tight) if r["id"] == "h")
    assert h["verdict"].startswith("kao: does not hold")


@pytest.mark.parametrize("gain, verdict", [(0.05, report.HOLDS), (-0.05, report.FAILS)])
def test_kao_tier_e_follows_the_sign_of_the_gain(gain, verdict):
    rows = report.kao_omniglot_verdicts(_kao(gain), CRIT)
    e = [r for r in rows if r["id"] == "e"]
    assert len(e) == 3 and all(r["verdict"] == verdict for r in e)
    a = next(r for r in rows if r["id"] == "a")
    assert a["verdict"] == report.HOLDS  # the trick's 0.94 against the random head's 0.88


def test_kao_section_sets_kao22s_numbers_beside_ours():
    kao = _kao(0.05)
    md = "\n".join(report.kao_omniglot_section(kao, CRIT))
    assert "| random (initvar 1.0) | as trained, 1 test step | 88.8 ± 0.5 (n=3) |" in md
    assert "+4.93 ± 0.15" in md  # Kao22's gain at step 2970
    ours = report.interval(d["test"]["1"]["acc"] for d in kao["omni-fo-random"].values())
    assert report.pct(ours) in md
    assert "Data differ" in md and "(14/20 points done;" in md


def _probe(diff_random, diff_zeroing):
    def run(d):
        return {"config": {"n_way": 5, "n_support": 20, "n_query": 20, "inner_steps": 5,
                           "inner_lr": 0.01, "outer_lr": 0.001, "outer_steps": 100,
                           "channels": 32},
                "steps": [0, 1, 10, 100], "same": [0.5] * 4, "diff": [0.3, 0.3, 0.2, d],
                "ratio": [0.5 / 0.3, 0.5 / 0.3, 2.5, 0.5 / d], "gap": [0.2, 0.2, 0.3, 0.5 - d]}

    return {"random": {k: run(diff_random + 0.001 * k) for k in range(3)},
            "zeroing": {k: run(diff_zeroing + 0.002 * k) for k in range(3)}}


@pytest.mark.parametrize("dr, dz, verdict", [(0.15, 0.05, report.HOLDS),
                                             (0.05, 0.15, report.FAILS)])
def test_g_is_judged_by_the_cosine_probe(dr, dz, verdict):
    g = next(r for r in report.claims({}, CRIT, _probe(dr, dz)) if r["id"] == "g")
    assert g["verdict"] == verdict
    md = report.render({}, "figs", crit=CRIT, probe=_probe(dr, dz))
    assert "## Kao22's cosine probe (claim g)" in md
    assert "0.146, 1.87" in md  # Kao22's random head after 101 updates


def test_ablation_section_pairs_each_factor_with_the_kao_tier():
    steps = (500, 1000)
    kao = {"omni-fo-random": {k: _point(0.86, 0.9, (0.04, 0.045 + 0.001 * k), steps)
                              for k in range(3)}}
    abl = {"abl-inner1": {k: _point(0.86, 0.9, (0.0, -0.02 - 0.002 * k), steps)
                          for k in range(3)},
           "abl-mb8": {k: _point(0.86, 0.9, (0.03, 0.04 + 0.001 * k), steps) for k in range(3)}}
    md = "\n".join(report.kao_ablation_section(abl, kao, {}))
    rows = {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| ")}
    sign = {k: v.split(" | ")[4] for k, v in rows.items()}
    assert sign["2 → 1 inner steps in training"] == "negative"
    assert sign["meta-batch 32 → 8"] == "positive"
    assert sign["kao-omniglot tier (all factors at Kao22's values)"] == "positive"
    # beside the sign, both accuracies at step 1000: as trained 86.0, zeroed 86 + gain
    assert rows["meta-batch 32 → 8"].endswith("| 86.0 ± 0.0 (n=3) | 90.1 ± 0.2 (n=3) |")
    # the paired change: (−0.020 − 0.045), (−0.022 − 0.046), (−0.024 − 0.047) → −6.8 points
    assert "-6.8 ± " in rows["2 → 1 inner steps in training"]


def _long(g3000, g9000, seeds=3):
    """kao-long points whose gain is ``g3000`` at step 3000 and ``g9000`` at 9000 (per seed a
    small offset, the same at both steps, so the paired change is exact)."""
    steps = report.KAO_LONG_STEPS
    return {"omni-fo-random": {
        k: _point(0.9, 0.92, tuple(g3000 + (g9000 - g3000) * (s - 3000) / 6000 + 0.004 * k
                                   for s in steps), steps)
        for k in range(seeds)}}


@pytest.mark.parametrize("g3000, g9000, shrink, sign", [
    (0.03, -0.04, "shrinks", "negative"),
    (0.03, 0.02, "shrinks", "positive"),
    (0.02, 0.05, "grows", "positive"),
])
def test_kao_long_verdicts_follow_the_pre_registered_rules(g3000, g9000, shrink, sign):
    rows = report.kao_long_verdicts(_long(g3000, g9000), CRIT)
    assert [r["verdict"] for r in rows] == [shrink, sign]
    assert rows[0]["rule"] == CRIT["kao_long"]["shrinks"]


def test_kao_long_is_inconclusive_with_one_seed_and_its_section_prints_its_rules():
    rows = report.kao_long_verdicts(_long(0.03, -0.04, seeds=1), CRIT)
    assert rows[0]["verdict"] == report.OPEN and rows[1]["verdict"] == "one seed"
    md = report.render({}, "figs", crit=CRIT, kao_long=_long(0.03, -0.04))
    assert "### Longer training at Kao22's setting" in md
    assert " ".join(CRIT["kao_long"]["reason"].split())[:80] in md
    assert "+4.93 ± 0.15 (step 2970)" in md  # Kao22's gain beside ours at step 3000
    assert "### Longer training" not in report.render({}, "figs", crit=CRIT)


def test_the_report_names_the_points_of_each_data_build():
    a, b = {"test": "aaaa", "train": "x", "val": "y"}, {"test": "bbbb", "train": "x", "val": "y"}
    pts = {"kao-fo-random": {0: {"data_sha256": a}, 1: {"data_sha256": a}},
           "kao-maml": {0: {"data_sha256": b, "data_version": "v1r2"}}}
    text = report.data_builds_text({"": pts, "kao-omniglot": {"omni-fo-random": {
        0: {"data_sha256": a}}}})
    assert text.startswith("**The points come from 2 builds of the data**")
    assert "`aaaa` (r1, 3 points): kao-fo-random seeds 0, 1, kao-omniglot omni-fo-random " \
           "seed 0." in text
    assert "`bbbb` (v1r2, 1 point): kao-maml seed 0." in text
    one = report.data_builds_text({"": {"kao-maml": {0: {"data_sha256": a}}}})
    assert one == "All points were computed on the same data (fingerprints agree)."
