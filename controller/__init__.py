"""greenlane: weighted blue/green rollouts between two live Deployments, judged against blue."""

__version__ = "0.1.0"
