"""Resource coordinators under the seed's module name (`ppg.resource_coordinators.LocalSystem`)."""

from .resources import CoreBudget, LocalSystem, ResourceError

__all__ = ["CoreBudget", "LocalSystem", "ResourceError"]
