"""The bottleneck radar: detectors that turn a scenario, its plan and forecast into alerts."""

from chainsight.risks.alerts import Alert, severity_of
from chainsight.risks.inputs import RadarInputs, RadarSettings
from chainsight.risks.radar import DETECTORS, ActionEffect, radar_json, scan, try_action

__all__ = ["DETECTORS", "ActionEffect", "Alert", "RadarInputs", "RadarSettings", "radar_json",
           "scan", "severity_of", "try_action"]
