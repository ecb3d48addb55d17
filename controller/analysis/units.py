"""Re-export: units live in ``controller.model.units`` so notifications and the CLI format numbers alike."""

from controller.model.units import BYTES, COUNT, NUMBER, RATIO, SECONDS, Unit, UnitName

__all__ = ["BYTES", "COUNT", "NUMBER", "RATIO", "SECONDS", "Unit", "UnitName"]
