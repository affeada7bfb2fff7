from django import template

from annotator.permissions import access_consensus as _access_consensus

register = template.Library()


@register.simple_tag
def access_consensus(user) -> bool:
    """Whether `user` may see consensus and agreement figures (annotator.permissions.access_consensus)."""
    return _access_consensus(user)
