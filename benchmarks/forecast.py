"""Forecaster benchmark: 10,000 runs of a 300-patient, 36-site trial, the SimPy
reference model's speed on the same trial, and a what-if sweep in a process pool.

Run: `.venv/bin/python benchmarks/forecast.py [--runs N] [--reference-runs N]`.
Figures go to benchmarks/README.md (section "Forecaster") by hand, with the machine.
"""

from __future__ import annotations

import argparse
import os
import time

from _machine import machine  # benchmarks/ is the script's folder

from chainsight.forecast import simulate, summarise
from chainsight.forecast.reference_des import simulate_reference
from chainsight.forecast.synthetic import synthetic_trial
from chainsight.forecast.whatif import compare, forecast_sweep, parse_what_if


def best_of(repeat: int, fn: object, clock: object = time.perf_counter) -> float:
    """Fastest of ``repeat`` timed calls (the least disturbed by the machine)."""
    assert callable(fn)
    assert callable(clock)
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def load() -> str:
    """The load average: other work on the machine inflates wall-clock figures."""
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reference-runs", type=int, default=20)
    parser.add_argument("--sweep-runs", type=int, default=2000)
    args = parser.parse_args()

    print(f"machine: {machine('numpy')}")
    trial = synthetic_trial(n_sites=36, target=300, seed=0)
    print(f"trial: {len(trial.sites)} sites, target {trial.trial.target_enrollment} patients, "
          f"{len(trial.dp_facilities)} CDMOs, horizon {trial.trial.horizon_days} days")

    simulate(trial, 500, 0)  # warm-up: imports, caches
    print(f"load average before: {load()}")
    single = best_of(3, lambda: summarise(simulate(trial, args.runs, 1)))
    cpu = best_of(3, lambda: summarise(simulate(trial, args.runs, 1)), time.process_time)
    print(f"vectorised forecast, {args.runs} runs, one process (best of 3): "
          f"{single:.2f} s wall, {cpu:.2f} s CPU")
    cores = os.cpu_count() or 1
    engine = best_of(3, lambda: summarise(simulate(trial, args.runs, 1, workers=cores)))
    print(f"vectorised forecast, {args.runs} runs, chunks over {cores} processes (best of 3): "
          f"{engine:.2f} s wall, {single / engine:.2f}x the one-process time  [target <= 2 s]")

    ref = best_of(1, lambda: simulate_reference(trial, args.reference_runs, 1))
    scaled = ref / args.reference_runs * args.runs
    print(f"SimPy reference, {args.reference_runs} runs: {ref:.2f} s -> scaled to "
          f"{args.runs} runs: {scaled:.0f} s")
    print(f"speed ratio (SimPy / vectorised): {scaled / engine:.0f}x with {cores} processes, "
          f"{scaled / single:.0f}x with one  [aim >= 50x]")
    print(f"load average after: {load()}")

    what_ifs = [
        parse_what_if({"label": "extra suite at CDMO-A",
                       "suites": [{"facility": "CDMO-A", "from": "2027-03-01"}]}),
        parse_what_if({"label": "campaign now", "campaigns": [{"campaign": 1,
                                                                "start": "2027-01-04"}]}),
        parse_what_if({"label": "success 97%", "success_rate": [{"rate": 0.97}]}),
        parse_what_if({"label": "S36 early", "sites": [{"site": "S36",
                                                         "activation": "2027-01-11"}]}),
    ]
    n = args.sweep_runs
    sequential = best_of(1, lambda: [compare(trial, w, n, 1) for w in what_ifs])
    pooled = best_of(1, lambda: forecast_sweep(trial, what_ifs, n, 1))
    print(f"what-if sweep, {len(what_ifs)} what-ifs x {n} runs (base + what-if each): "
          f"sequential {sequential:.2f} s, process pool ({os.cpu_count()} workers) "
          f"{pooled:.2f} s, speed-up {sequential / pooled:.2f}x")


if __name__ == "__main__":
    main()
