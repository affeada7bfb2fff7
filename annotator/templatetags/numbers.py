"""Counts as people read them on every page: 50,000, not 50000.

Django's own grouping (`floatformat:"g"`, USE_THOUSAND_SEPARATOR) goes through localisation, ~0.1 ms per value
(the dashboard's tables have a row per class), and a global switch would also group ids in attributes and
URLs. This filter groups plainly, by three digits with a comma (the site is in English)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def count(value: Any) -> str:
    """A whole number with thousands separators ("1,500"); "–" when there is none; other text unchanged."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def decimals(value: Any, places: int = 2) -> str:
    """A number with `places` decimals ("0.67"), plainly like `count` (`floatformat` localises, ~0.1 ms per value:
    most of a queue page's per-row time); "–" when there is none."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):.{int(places)}f}"
    except (TypeError, ValueError):
        return str(value)
