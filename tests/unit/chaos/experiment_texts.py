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

TRAINING = """\
version: 1
name: unit_training
target: {stack: local}
steady_state:
  - training: {settings: {steps: 100, checkpoint_every: 25}}
method:
  - fault: node-kill
    select: {node: zone-a-node-1}
    at_step: 40
    duration: 3s
verdict:
  - training_completed == true
  - training_steps_lost <= checkpoint_interval
"""
