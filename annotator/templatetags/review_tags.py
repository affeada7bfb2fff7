from django import template

from annotator.permissions import access_review

register = template.Library()


@register.filter
def can_review(user: object) -> bool:
    """Whether `user` may use the review queue (annotator.permissions.access_review)."""
    return access_review(user)  # type: ignore[arg-type]
