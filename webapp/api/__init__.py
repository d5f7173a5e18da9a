"""The HTTP API: one blueprint per feature."""
