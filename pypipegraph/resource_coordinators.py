"""Resource coordinators under 0.197's module name (`ppg.resource_coordinators.LocalSystem`)."""

from .cluster.local import LocalSystem
from .resources import CoreBudget, ResourceError

__all__ = ["CoreBudget", "LocalSystem", "ResourceError"]
