"""Routes, one module per domain; each module's namespace (`app_name`) is its domain, and config/urls.py
includes every one."""
