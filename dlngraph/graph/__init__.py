"""The graph layer: a checked spec compiled to a networkx DiGraph, and its renderings."""

from dlngraph.graph.compiled import CompiledNetwork, compile_network

__all__ = ["CompiledNetwork", "compile_network"]
