"""The gateway's Mongo stores (async PyMongo), one per resource: ``sessions``, ``kbs``,
``evaluations``, ``alerts``. The document shapes are built by :mod:`ragtasks_core.documents`."""
