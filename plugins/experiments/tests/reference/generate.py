"""Reference values for the experiments component's statistics, computed with
SciPy and statsmodels (established packages), written to reference.json.

    python3 -m pip install scipy==1.17.1 statsmodels
    python3 plugins/experiments/tests/reference/generate.py

The Rust test `tests/statistics.rs` compares every figure with these.
"""
import json
import math
import pathlib

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest, confint_proportions_2indep
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

rates = []
for c1, n1, c0, n0 in [(120, 1000, 100, 1000), (30, 400, 45, 410), (7, 50, 3, 60),
                       (510, 5000, 500, 5000), (1, 20000, 9, 20000)]:
    _, p = proportions_ztest([c1, c0], [n1, n0])  # pooled two-sided z-test
    lo, hi = confint_proportions_2indep(c1, n1, c0, n0, method="wald", compare="diff")
    rlo, rhi = confint_proportions_2indep(c1, n1, c0, n0, method="log", compare="ratio")
    rates.append({"c1": c1, "n1": n1, "c0": c0, "n0": n0, "p_value": p,
                  "absolute_ci": [lo, hi], "relative_ci": [rlo - 1, rhi - 1]})

means = []
rng = np.random.default_rng(20261122)
for n1, n0, mu1, mu0, sd1, sd0 in [(40, 50, 10.0, 9.0, 3.0, 2.0), (200, 180, 5.0, 5.2, 4.0, 1.0),
                                   (12, 9, 100.0, 80.0, 30.0, 10.0)]:
    t = np.round(rng.normal(mu1, sd1, n1), 2)
    c = np.round(rng.normal(mu0, sd0, n0), 2)
    res = stats.ttest_ind(t, c, equal_var=False)
    ci = res.confidence_interval(0.95)
    means.append({"treatment": t.tolist(), "control": c.tolist(), "p_value": float(res.pvalue),
                  "absolute_ci": [float(ci.low), float(ci.high)]})

srm = []
for units, weights in [([5050, 4950], [1, 1]), ([5200, 4800], [1, 1]), ([1000, 0], [1, 1]),
                       ([3000, 980, 1020], [3, 1, 1]), ([700, 300, 0], [1, 1, 1])]:
    total = sum(units)
    expected = [total * w / sum(weights) for w in weights]
    srm.append({"units": units, "weights": weights,
                "p_value": float(stats.chisquare(units, expected).pvalue)})

sizes = []
for baseline, mde in [(0.10, 0.02), (0.05, 0.01), (0.30, -0.05), (0.5, 0.1)]:
    h = proportion_effectsize(baseline + mde, baseline)
    n = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0,
                                     alternative="two-sided")
    sizes.append({"baseline": baseline, "mde": mde, "per_arm": math.ceil(n)})

out = {"generated_with": {"scipy": __import__("scipy").__version__,
                          "statsmodels": __import__("statsmodels").__version__},
       "rates": rates, "means": means, "srm": srm, "sample_size": sizes}
path = pathlib.Path(__file__).with_name("reference.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
