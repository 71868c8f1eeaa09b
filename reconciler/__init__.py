"""reconciler: declarative GitOps for scheduled jobs on the Ductape platform."""

__version__ = "0.1.0"
