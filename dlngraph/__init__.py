"""dlngraph: Deep Language Networks as YAML graphs, trained with variational inference."""

__version__ = "0.1.0"
