from typing import Any

from django import template

from annotator.permissions import access_consensus as _access_consensus

register = template.Library()


@register.simple_tag
def access_consensus(user) -> bool:
    """Whether `user` may see consensus and agreement figures (annotator.permissions.access_consensus)."""
    return _access_consensus(user)


# The dashboard's tables have a row per class (1,000 for ImageNet): Django's floatformat and number
# localisation cost ~0.1 ms per value there, most of the page's render time. These two format plainly.


@register.filter
def fixed(value: Any, digits: int = 2) -> str:
    """`value` with `digits` decimals, or "–" when there is none (None, empty, NaN)."""
    if value is None or value == "":
        return "–"
    number = float(value)
    return "–" if number != number else f"{number:.{int(digits)}f}"


@register.filter
def plain(value: object) -> str:
    """A whole number as digits, without going through localisation."""
    return "–" if value is None else str(value)


@register.filter
def percent(value: float | None) -> str:
    """0.15891 → '15.9%'."""
    return "–" if value is None else f"{value * 100:.1f}%"


@register.filter
def percent_interval(interval: list[float] | None) -> str:
    """A Wilson interval as '[15.6, 16.2]%'."""
    return "" if not interval else f"[{interval[0] * 100:.1f}, {interval[1] * 100:.1f}]%"


@register.filter
def grouped(value: int | None) -> str:
    """7910 → '7,910'."""
    return "–" if value is None else f"{value:,}"
