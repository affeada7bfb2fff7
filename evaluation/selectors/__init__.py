"""Reads shared by views, APIs, services and tasks, one module per domain."""
