"""The gateway: the HTTP API RAG apps call. It publishes tasks by name and never imports workers."""
