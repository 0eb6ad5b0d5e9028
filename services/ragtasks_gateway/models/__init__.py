"""Request and response bodies of the HTTP API, one module per route module (``routes/<area>.py``
takes its models from ``models/<area>.py``)."""
