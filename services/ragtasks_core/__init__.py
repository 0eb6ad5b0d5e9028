"""Shared core of ragtasks: settings, the task contract, the Celery app factory, metrics."""

__version__ = "0.1.0"
