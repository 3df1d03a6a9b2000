"""The reference training and serving stack: zones, nodes and simulated GPUs on one machine
(a supervisor, serving replicas behind a zone-aware gateway, elastic training), and its
fault surface."""
from ._cli import add_parser
from ._control import Stack, StackError, down, up
from ._topology import TRAINING_KEYS as TRAINING_SETTINGS
from ._topology import Node, Topology, load_topology, training_errors

__all__ = ["TRAINING_SETTINGS", "Node", "Stack", "StackError", "Topology", "add_parser", "down",
           "load_topology", "training_errors", "up"]
