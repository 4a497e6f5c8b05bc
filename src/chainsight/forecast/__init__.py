"""Monte Carlo forecast of the trial's value chain: enrolment, manufacturing, vector."""

from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.enrollment import EnrollmentFit, fit_counts, fit_enrollment
from chainsight.forecast.forecaster import FORMAT, Simulation, forecast, simulate, summarise

__all__ = [
    "FORMAT", "EnrollmentFit", "ForecastConfig", "Simulation", "fit_counts", "fit_enrollment",
    "forecast", "simulate", "summarise",
]
