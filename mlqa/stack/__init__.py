"""The reference training and serving stack: zones, nodes and simulated GPUs on one machine
(a supervisor, serving replicas behind a zone-aware gateway, elastic training), and its
fault surface."""
from ._cli import add_parser
from ._control import Stack, StackError, down, up
from ._topology import Node, Topology, load_topology

__all__ = ["Node", "Stack", "StackError", "Topology", "add_parser", "down", "load_topology", "up"]
