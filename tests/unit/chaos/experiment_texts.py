"""Experiment texts the chaos unit tests edit (one valid file each)."""

BASE = """\
version: 1
name: unit_probe
target: {stack: local}
steady_state:
  - load: {rate: 40/s}
method:
  - fault: zone-outage
    select: {zone: zone-a}
    at: 2s
    duration: 6s
stop_conditions:
  - success_rate < 50% for 3s
verdict:
  - availability >= 99%
"""
