"""The ship tests' real helm/kubectl (``tools``) for the chart checks of the admission policy."""

from tests.ship.conftest import tools

__all__ = ["tools"]
