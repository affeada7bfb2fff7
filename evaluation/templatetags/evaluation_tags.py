"""Template helpers for evaluation pages: access checks and metric formatting."""

from __future__ import annotations

from django import template

from evaluation.permissions import User, access_evaluation, access_releases

register = template.Library()


@register.filter
def can_see_evaluation(user: User) -> bool:
    return access_evaluation(user)


@register.filter
def pct(value: object, digits: int = 2) -> str:
    """0.82958 → '82.96'; undefined (None, or a missing key in a template) → '—'."""
    return f"{value * 100:.{digits}f}" if isinstance(value, int | float) else "—"


@register.filter
def pts(value: object) -> str:
    """A difference of proportions in points, signed: -0.128 → '−12.80'; undefined → '—'."""
    if not isinstance(value, int | float):
        return "—"
    return f"{value * 100:+.2f}".replace("-", "−")


@register.filter
def ci(interval: list[float] | None) -> str:
    """Wilson interval as '[82.63, 83.28]' in percent."""
    if not interval:
        return ""
    low, high = interval
    return f"[{low * 100:.2f}, {high * 100:.2f}]"


@register.filter
def get(mapping: dict | None, key: str) -> object:
    return None if mapping is None else mapping.get(key)


@register.filter
def absolute(value: int | None) -> int | None:
    return None if value is None else abs(value)


@register.filter
def can_see_releases(user: User) -> bool:
    return access_releases(user)
