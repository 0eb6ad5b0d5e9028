"""Alerting pieces shared by the gateway (which detects) and the alerter (which delivers).

The empty-retrieval window and rule run in the gateway, per event; the alert documents' collection
names are read by the gateway's alert API and written by the alerter. Keeping them here lets the
gateway stay free of worker code.
"""

ALERTS = "alerts"
GROUPS = "alert_groups"
NOTIFICATIONS = "alert_notifications"
