"""Enrolment: the Poisson-gamma model (Anisimov & Fedorov), fitted by empirical Bayes.

Each site ``i`` enrols as a Poisson process with rate ``lambda_i = r_i * theta_i``, where
``r_i`` is the sponsor's planning assumption for the site and ``theta_i`` its unknown
performance factor, ``theta_i ~ Gamma(alpha, rate=alpha/mu)``: ``mu`` is how the sites
perform on average against plan (1 = as planned) and ``alpha`` how much they differ
(coefficient of variation ``1/sqrt(alpha)``). Writing the model against the plan keeps
the sponsor's site-to-site differences and lets the data correct their common level.

Fit, from each activated site's count ``n_i`` before today and exposure ``e_i = r_i t_i``
(``t_i`` days open before today):

* ``mu`` is shrunk towards the plan: ``(w0 + sum n) / (w0 + sum e)`` where ``w0`` is the
  plan's weight in expected patients; with little exposure the plan dominates.
* ``alpha`` maximises the negative-binomial marginal likelihood of the counts (with a
  weak log-normal prior, so that a handful of sites cannot drive it to an extreme).
* Per run, ``mu`` itself is drawn from a gamma matching its estimation variance, so the
  forecast carries the uncertainty of the common level, not only of single sites.
* An activated site's factor is drawn from its posterior
  ``Gamma(alpha + n_i, alpha/mu + e_i)``; a site not yet open from the population.

Patients listed with an ``enrolled`` day after today are *expected* enrolments, not data:
they do not enter the fit and the simulation draws the future enrolments in their place
(their ``doses`` only inform the batch modality's dose distribution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from chainsight.domain import Scenario
from chainsight.forecast.config import ForecastConfig

DAYS_PER_MONTH = 365.25 / 12
# A site planned at 0 patients/month that enrols anyway must not make the likelihood
# infinite: its exposure uses this share of the average planned rate.
_RATE_FLOOR_SHARE = 0.05
_ALPHA_BOUNDS = (0.05, 500.0)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class EnrollmentFit:
    """The fitted Poisson-gamma model of enrolment, per site (arrays in site order)."""

    site_ids: tuple[str, ...]
    planned_per_day: FloatArray
    observed: NDArray[np.bool_]
    counts: IntArray
    exposure_days: FloatArray
    alpha: float
    mean_factor: float
    mean_shape: float
    mean_rate: float
    data_weight: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def expected_exposure(self) -> FloatArray:
        """Patients each site would have enrolled so far had it followed the plan."""
        return self.planned_per_day * self.exposure_days

    def posterior_mean_factor(self) -> FloatArray:
        """Each site's expected performance factor against plan (observed or population)."""
        beta = self.alpha / self.mean_factor
        shape = self.alpha + np.where(self.observed, self.counts, 0)
        rate = beta + np.where(self.observed, self.expected_exposure, 0.0)
        return np.asarray(shape / rate, dtype=np.float64)

    def posterior_mean_per_month(self) -> FloatArray:
        """Each site's expected enrolment rate, patients per month."""
        return self.posterior_mean_factor() * self.planned_per_day * DAYS_PER_MONTH

    def summary(self) -> dict[str, float | int]:
        """The fit's headline figures, rounded, for the forecast's record."""
        return {
            "alpha": round(self.alpha, 4),
            "mean_factor_vs_plan": round(self.mean_factor, 4),
            "mean_factor_sd": round(math.sqrt(self.mean_shape) / self.mean_rate, 4),
            "data_weight": round(self.data_weight, 4),
            "sites_observed": int(self.observed.sum()),
            "patients_observed": int(self.counts[self.observed].sum()),
            "expected_patients_by_plan": round(
                float(self.expected_exposure[self.observed].sum()), 3
            ),
        }


def fit_counts(
    planned_per_day: FloatArray,
    counts: IntArray,
    exposure_days: FloatArray,
    observed: NDArray[np.bool_],
    config: ForecastConfig | None = None,
    site_ids: tuple[str, ...] = (),
) -> EnrollmentFit:
    """Fit ``(alpha, mu)`` to per-site counts and exposures (see the module docstring)."""
    config = config or ForecastConfig()
    planned = np.asarray(planned_per_day, dtype=np.float64)
    positive = planned[planned > 0]
    floor = (positive.mean() if positive.size else 1.0 / DAYS_PER_MONTH) * _RATE_FLOOR_SHARE
    planned = np.maximum(planned, floor)
    counts = np.asarray(counts, dtype=np.int64)
    exposure_days = np.asarray(exposure_days, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool) & (exposure_days > 0)
    exposure = planned * exposure_days
    n = counts[observed].astype(np.float64)
    e = exposure[observed]
    w0 = config.prior_weight_patients
    mu = (w0 + n.sum()) / (w0 + e.sum())
    alpha = _fit_alpha(n, e, mu, config) if n.size else config.alpha_prior
    # Variance of the mean factor: Poisson noise plus site-to-site spread of the sites
    # that carry the data, plus the plan's pseudo-data.
    variance = (mu * (w0 + e.sum()) + mu * mu * float(np.sum(e * e)) / alpha) / (w0 + e.sum()) ** 2
    mean_shape = mu * mu / variance
    mean_rate = mu / variance
    ids = site_ids or tuple(str(i) for i in range(planned.size))
    return EnrollmentFit(
        site_ids=ids,
        planned_per_day=planned,
        observed=observed,
        counts=counts,
        exposure_days=exposure_days,
        alpha=float(alpha),
        mean_factor=float(mu),
        mean_shape=float(mean_shape),
        mean_rate=float(mean_rate),
        data_weight=float(e.sum() / (w0 + e.sum())),
    )


def _fit_alpha(n: FloatArray, e: FloatArray, mu: float, config: ForecastConfig) -> float:
    log_prior_centre = math.log(config.alpha_prior)
    sd = config.alpha_prior_log_sd

    def penalised(log_alpha: float) -> float:
        alpha = math.exp(log_alpha)
        beta = alpha / mu
        loglik = (
            special.gammaln(alpha + n) - special.gammaln(alpha)
            + alpha * np.log(beta / (beta + e)) + n * np.log(e / (beta + e))
        ).sum()
        return float(-loglik + (log_alpha - log_prior_centre) ** 2 / (2 * sd * sd))

    low, high = (math.log(b) for b in _ALPHA_BOUNDS)
    result = optimize.minimize_scalar(penalised, bounds=(low, high), method="bounded",
                                      options={"xatol": 1e-6})
    return float(math.exp(result.x))


def fit_enrollment(scenario: Scenario, config: ForecastConfig | None = None) -> EnrollmentFit:
    """Fit the enrolment model to the scenario's sites and the enrolment before today."""
    today = scenario.today
    ids = tuple(s.id for s in scenario.sites)
    index = {sid: i for i, sid in enumerate(ids)}
    planned = np.array([s.enrollment_rate_per_month / DAYS_PER_MONTH for s in scenario.sites])
    exposure = np.zeros(len(ids))
    observed = np.zeros(len(ids), dtype=bool)
    for i, site in enumerate(scenario.sites):
        actual = site.activation.actual
        if actual is not None and actual < today:
            exposure[i] = (today - actual).days
            observed[i] = True
    counts = np.zeros(len(ids), dtype=np.int64)
    for patient in scenario.patients:
        if patient.enrolled < today and patient.site in index:
            counts[index[patient.site]] += 1
    return fit_counts(planned, counts, exposure, observed, config, ids)


def draw_site_rates(
    fit: EnrollmentFit, runs: int, rng_mean: np.random.Generator, rng_sites: np.random.Generator
) -> FloatArray:
    """Site enrolment rates per day, shape (runs, sites), one draw of the model per run."""
    mu = rng_mean.gamma(fit.mean_shape, 1.0 / fit.mean_rate, size=runs)
    mu = np.maximum(mu, 1e-9)
    shape = fit.alpha + np.where(fit.observed, fit.counts, 0).astype(np.float64)
    exposure = np.where(fit.observed, fit.expected_exposure, 0.0)
    rate = fit.alpha / mu[:, None] + exposure[None, :]
    theta = rng_sites.standard_gamma(np.broadcast_to(shape, (runs, shape.size))) / rate
    return np.asarray(theta * fit.planned_per_day[None, :], dtype=np.float64)


def activation_days(
    scenario: Scenario, runs: int, rng: np.random.Generator, config: ForecastConfig,
) -> FloatArray:
    """Day (from today, continuous) each site opens, shape (runs, sites).

    Actual activation where known; otherwise the planned day (today if it has passed)
    plus a gamma delay.
    """
    today = scenario.today
    k = config.activation_delay_shape
    scale = config.activation_delay_mean_days / k
    delays = rng.gamma(k, scale, size=(runs, len(scenario.sites))) if scale > 0 else np.zeros(
        (runs, len(scenario.sites)))
    out = np.empty((runs, len(scenario.sites)))
    for i, site in enumerate(scenario.sites):
        if site.activation.actual is not None:
            out[:, i] = float((site.activation.actual - today).days)
        else:
            planned = (site.activation.planned - today).days
            out[:, i] = max(planned, 0) + delays[:, i]
    return out


def simulate_enrollment(
    rates: FloatArray, opens: FloatArray, patients: int, rng: np.random.Generator,
    start: float = 1.0,
) -> tuple[FloatArray, IntArray]:
    """Times (days from today, continuous) and sites of the next ``patients`` enrolments.

    The sites' Poisson processes are merged: the cumulative intensity is piecewise
    linear with a kink at each opening, so the k-th arrival of a unit-rate process
    (a sum of exponentials) is mapped back through it. Rows are independent runs;
    time runs from ``start`` (enrolment on today itself is already known). An arrival
    that never happens (no site enrols) has time ``inf``.
    """
    runs, n_sites = rates.shape
    if patients == 0 or n_sites == 0:
        return np.full((runs, patients), np.inf), np.zeros((runs, patients), dtype=np.int64)
    opens = np.maximum(opens, start)
    order = np.argsort(opens, axis=1, kind="stable")
    a = np.take_along_axis(opens, order, axis=1)
    lam = np.take_along_axis(rates, order, axis=1)
    slope = np.cumsum(lam, axis=1)
    cum = np.zeros_like(a)
    cum[:, 1:] = np.cumsum(slope[:, :-1] * np.diff(a, axis=1), axis=1)
    unit = np.cumsum(rng.standard_exponential((runs, patients)), axis=1)
    pick = rng.random((runs, patients))
    # Row-wise searchsorted: shift each row into its own band of the real line.
    band = max(float(cum[:, -1].max()), float(unit[:, -1].max())) + 1.0
    offset = np.arange(runs, dtype=np.float64)[:, None] * band
    seg = np.searchsorted((cum + offset).ravel(), (unit + offset).ravel(), side="right")
    seg = seg.reshape(runs, patients) - np.arange(runs)[:, None] * n_sites - 1
    seg = np.clip(seg, 0, n_sites - 1)
    base_t = np.take_along_axis(a, seg, axis=1)
    base_c = np.take_along_axis(cum, seg, axis=1)
    speed = np.take_along_axis(slope, seg, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        times = np.where(speed > 0, base_t + (unit - base_c) / speed, np.inf)
    # Which site: proportional to the rates of the sites open at that time.
    target = pick * speed
    band2 = float(slope[:, -1].max()) + 1.0
    offset2 = np.arange(runs, dtype=np.float64)[:, None] * band2
    which = np.searchsorted((slope + offset2).ravel(), (target + offset2).ravel(), side="right")
    which = which.reshape(runs, patients) - np.arange(runs)[:, None] * n_sites
    which = np.minimum(np.clip(which, 0, n_sites - 1), seg)
    sites = np.take_along_axis(order, which, axis=1)
    return times, sites.astype(np.int64)
