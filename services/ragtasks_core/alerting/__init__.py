"""Alerting pieces shared by the gateway (which detects) and the alerter (which delivers).

The empty-retrieval window and rule run in the gateway, per event. The alert documents'
collections (read by the gateway's alert API, written by the alerter) are
:mod:`ragtasks_core.documents.alerts`. Keeping both here and there lets the gateway stay free of
worker code.
"""
