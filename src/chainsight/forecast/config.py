"""Parameters of the forecast model that the scenario does not carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ForecastConfig:
    """Assumptions of the forecast model, recorded with every forecast.

    ``activation_delay_*``: a site whose activation has not happened yet opens on its
    planned day (or today, if the planned day has passed) plus a gamma-distributed delay.
    Sites are "often late" (DOMAIN.md); a mean of 30 days with shape 2 (sd about 21
    days) puts a one-in-ten chance on a delay over two months.

    ``prior_weight_patients``: how many expected enrolments the sponsor's planning
    assumption is worth when it is combined with the enrolment observed so far. With
    little observed exposure the forecast follows the plan; once the sites have been
    open long enough to expect many more patients than this, the data dominate.

    ``alpha_prior`` / ``alpha_prior_log_sd``: a weak log-normal prior on the gamma shape
    of site-to-site variability (coefficient of variation 1/sqrt(alpha)); it keeps the
    estimate sane when only a few sites have data.

    ``max_attempts``: manufacturing runs a patient may have; after this many failures
    the patient is withdrawn.

    ``chunk_runs``: runs simulated together; also the unit of progress reports. The
    random streams are tied to chunks, so this is part of what a seed reproduces.
    """

    activation_delay_mean_days: float = 30.0
    activation_delay_shape: float = 2.0
    prior_weight_patients: float = 3.0
    alpha_prior: float = 2.0
    alpha_prior_log_sd: float = 1.0
    max_attempts: int = 3
    chunk_runs: int = 5000

    def __post_init__(self) -> None:
        if self.activation_delay_mean_days < 0 or self.activation_delay_shape <= 0:
            raise ValueError("activation delay needs mean >= 0 and shape > 0")
        if self.prior_weight_patients <= 0:
            raise ValueError("prior_weight_patients must be > 0")
        if self.alpha_prior <= 0 or self.alpha_prior_log_sd <= 0:
            raise ValueError("alpha_prior and alpha_prior_log_sd must be > 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.chunk_runs < 1:
            raise ValueError("chunk_runs must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as plain data (for the forecast's record)."""
        return asdict(self)
