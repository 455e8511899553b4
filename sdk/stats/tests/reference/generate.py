"""Reference values for mercato-stats, computed with established packages and
written to reference.json beside this script:

- SciPy / statsmodels: Wald tests and intervals, Wilson intervals, Welch's
  t-test, Holm and Benjamini-Hochberg, chi-square goodness of fit, power;
- GrowthBook's gbstats: delta-method relative lifts, CUPED (regression
  adjustment), Gaussian mixture confidence sequences and their p-values, and
  the Bayesian readout (chance to win, risk) under its flat prior.

    python3 -m pip install scipy==1.17.1 statsmodels==0.15.0 gbstats==0.8.0
    python3 sdk/stats/tests/reference/generate.py

Run by hand, never in CI; `tests/reference.rs` compares every figure with
these (1e-6 relative).
"""
import json
import math
import pathlib

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (confint_proportions_2indep, proportion_confint,
                                          test_proportions_2indep)

import gbstats
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import (FrequentistConfig, SequentialConfig,
                                       SequentialTwoSidedTTest, TwoSidedTTest,
                                       frequentist_diff, frequentist_variance)
from gbstats.models.statistics import (ProportionStatistic, RegressionAdjustedStatistic,
                                       SampleMeanStatistic)

Z = stats.norm.ppf(0.975)
TUNING = 5000


def gb_frequentist(a, b, relative, sequential=False):
    kind = "relative" if relative else "absolute"
    if sequential:
        r = SequentialTwoSidedTTest(a, b, SequentialConfig(difference_type=kind,
                                                           sequential_tuning_parameter=TUNING))
    else:
        r = TwoSidedTTest(a, b, FrequentistConfig(difference_type=kind))
    return {"ci": [float(r.confidence_interval[0]), float(r.confidence_interval[1])],
            "p_value": float(r.p_value), "estimate": float(r.point_estimate)}


def gb_bayes(a, b):
    r = EffectBayesianABTest(a, b, EffectBayesianConfig(difference_type="relative")).compute_result()
    if r.error_message:
        return None
    return {"chance_to_win": float(r.chance_to_win), "risk_control": float(r.risk[0]),
            "risk_treatment": float(r.risk[1]), "ci": [float(r.ci[0]), float(r.ci[1])]}


rates = []
for c1, n1, c0, n0 in [(120, 1000, 100, 1000), (30, 400, 45, 410), (7, 50, 3, 60),
                       (510, 5000, 500, 5000), (1, 20000, 9, 20000), (5, 300, 0, 300),
                       (0, 300, 5, 300), (300, 300, 290, 300), (2, 10, 1, 12)]:
    case = {"c1": c1, "n1": n1, "c0": c0, "n0": n0}
    # Unpooled (Wald) z-test and the Wald interval it inverts.
    _, p = test_proportions_2indep(c1, n1, c0, n0, method="wald", compare="diff")
    lo, hi = confint_proportions_2indep(c1, n1, c0, n0, method="wald", compare="diff")
    case.update(p_value=float(p), absolute_ci=[float(lo), float(hi)])
    p1, p0 = c1 / n1, c0 / n0
    if p0 > 0:
        # gbstats' delta-method variance of the relative lift, normal quantile.
        est = frequentist_diff(p0, p1, True)
        var = frequentist_variance(p0 * (1 - p0), p0, n0, p1 * (1 - p1), p1, n1, True)
        case["relative"] = est
        if var > 0:  # a rate of 0 in the treatment leaves the delta method nothing
            case["relative_ci"] = [est - Z * math.sqrt(var), est + Z * math.sqrt(var)]
        a, b = ProportionStatistic(n=n0, sum=c0), ProportionStatistic(n=n1, sum=c1)
        if a.variance > 0 and b.variance > 0:
            case["sequential_relative_ci"] = gb_frequentist(a, b, True, True)["ci"]
            case["bayes"] = gb_bayes(a, b)
    a, b = ProportionStatistic(n=n0, sum=c0), ProportionStatistic(n=n1, sum=c1)
    if a.variance + b.variance > 0:
        seq = gb_frequentist(a, b, False, True)
        case["sequential_absolute_ci"] = seq["ci"]
        case["sequential_p_value"] = seq["p_value"]
    wlo, whi = proportion_confint(c1, n1, alpha=0.05, method="wilson")
    case["treatment_wilson"] = [float(wlo), float(whi)]
    rates.append(case)


def mean_stat(v):
    return SampleMeanStatistic(n=len(v), sum=float(np.sum(v)), sum_squares=float(np.sum(v * v)))


means = []
rng = np.random.default_rng(20261201)
for n1, n0, mu1, mu0, sd1, sd0 in [(40, 50, 10.0, 9.0, 3.0, 2.0), (200, 180, 5.0, 5.2, 4.0, 1.0),
                                   (12, 9, 100.0, 80.0, 30.0, 10.0), (300, 300, 0.0, 0.3, 1.0, 1.0)]:
    t = np.round(rng.normal(mu1, sd1, n1), 2)
    c = np.round(rng.normal(mu0, sd0, n0), 2)
    res = stats.ttest_ind(t, c, equal_var=False)
    ci = res.confidence_interval(0.95)
    a, b = mean_stat(c), mean_stat(t)
    tlo, thi = stats.t.interval(0.95, n1 - 1, loc=np.mean(t), scale=stats.sem(t))
    means.append({"treatment": t.tolist(), "control": c.tolist(), "p_value": float(res.pvalue),
                  "absolute_ci": [float(ci.low), float(ci.high)],
                  "relative_ci": gb_frequentist(a, b, True)["ci"],
                  "sequential_absolute_ci": gb_frequentist(a, b, False, True)["ci"],
                  "sequential_p_value": gb_frequentist(a, b, False, True)["p_value"],
                  "sequential_relative_ci": gb_frequentist(a, b, True, True)["ci"],
                  "bayes": gb_bayes(a, b),
                  "treatment_ci": [float(tlo), float(thi)]})

# Large values (order revenue in minor units): variance by NumPy's two-pass.
big = (1e11 + np.round(rng.normal(0, 1000, 5000))).tolist()
large = {"values": big, "mean": float(np.mean(big)), "variance": float(np.var(big, ddof=1))}

cuped = []
for n1, n0, lift, rho in [(400, 420, 0.5, 0.8), (150, 160, 0.0, 0.5), (1000, 990, 1.0, 0.95)]:
    def draw(n, shift):
        x = rng.normal(20.0, 5.0, n)
        y = 10.0 + shift + rho * (x - 20.0) + math.sqrt(1 - rho * rho) * 5.0 * rng.normal(size=n)
        return np.round(x, 3), np.round(y, 3)
    x1, y1 = draw(n1, lift)
    x0, y0 = draw(n0, 0.0)

    def ra(x, y):
        return RegressionAdjustedStatistic(n=len(y), post_statistic=mean_stat(y),
                                           pre_statistic=mean_stat(x),
                                           post_pre_sum_of_products=float(np.sum(x * y)), theta=0)
    cuped.append({"treatment": list(zip(y1.tolist(), x1.tolist())),
                  "control": list(zip(y0.tolist(), x0.tolist())),
                  "absolute": gb_frequentist(ra(x0, y0), ra(x1, y1), False),
                  "relative": gb_frequentist(ra(x0, y0), ra(x1, y1), True)})

corrections = []
for p in [[0.01, 0.04, 0.03], [0.2, 0.001, 0.04, 0.5], [0.05, 0.05], [0.9, 0.01, 0.02, 0.03, 0.04]]:
    corrections.append({"p": p, "holm": multipletests(p, method="holm")[1].tolist(),
                        "bh": multipletests(p, method="fdr_bh")[1].tolist()})

srm = []
for units, weights in [([5050, 4950], [1, 1]), ([5200, 4800], [1, 1]), ([1000, 0], [1, 1]),
                       ([3000, 980, 1020], [3, 1, 1]), ([700, 300, 0], [1, 1, 1]),
                       ([5050, 4950], [50, 50])]:
    total = sum(units)
    expected = [total * w / sum(weights) for w in weights]
    srm.append({"units": units, "weights": weights,
                "p_value": float(stats.chisquare(units, expected).pvalue)})

def exact_power(n, p0, p1):
    """The unpooled z-test's power over every pair of binomial outcomes."""
    x = np.arange(n + 1)
    f0, f1 = stats.binom.pmf(x, n, p0), stats.binom.pmf(x, n, p1)
    q0, q1 = x[:, None] / n, x[None, :] / n
    v = (q0 * (1 - q0) + q1 * (1 - q1)) / n
    with np.errstate(all="ignore"):
        reject = (v > 0) & (np.abs(q1 - q0) > Z * np.sqrt(v))
    return float((f0[:, None] * f1[None, :] * reject).sum())


sizes = []
for baseline, mde in [(0.10, 0.02), (0.05, 0.01), (0.30, -0.05), (0.5, 0.1), (0.9, 0.1),
                      (0.02, 0.01), (0.2, 0.6), (0.9, -0.81), (0.1, 0.4), (0.7, -0.35)]:
    p1 = baseline + mde
    # The unpooled z-test's effect size: mde over the average per-unit sd.
    es = abs(mde) / math.sqrt((baseline * (1 - baseline) + p1 * (1 - p1)) / 2)
    n = NormalIndPower().solve_power(effect_size=es, alpha=0.05, power=0.8, ratio=1.0,
                                     alternative="two-sided")
    n = math.ceil(n)
    sizes.append({"baseline": baseline, "mde": mde, "normal_approximation": n,
                  "exact_power": exact_power(n, baseline, p1),
                  "exact_power_plus_5": exact_power(n + 5, baseline, p1)})

out = {"generated_with": {"scipy": __import__("scipy").__version__,
                          "statsmodels": __import__("statsmodels").__version__,
                          "gbstats": __import__("importlib.metadata").metadata.version("gbstats"),
                          "sequential_tuning": TUNING},
       "rates": rates, "means": means, "large_values": large, "cuped": cuped,
       "corrections": corrections, "srm": srm, "sample_size": sizes}
path = pathlib.Path(__file__).with_name("reference.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
