"""The scheduler (Celery beat): publishes the periodic jobs by name. Run exactly one."""
