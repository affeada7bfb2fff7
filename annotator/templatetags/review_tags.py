from collections.abc import Iterable
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from annotator.permissions import User, access_review

register = template.Library()

# Why an image is disputed (Consensus.dispute_reasons, annotator.core.consensus_rules.REASONS), as reviewers read
# it: a short label and a longer explanation for the tooltip. The API keeps the codes.
REASON_WORDS: dict[str, tuple[str, str]] = {
    "near_threshold": ("close vote", "a class's yes-share is within the dispute band of the threshold τ"),
    "few_answers": ("too few answers", "a class was judged by fewer annotators than the image needs"),
    "unsure": ("an annotator was unsure", "someone answered unsure: the classes they did not choose count as maybe"),
    "bad_image": ("flagged bad image", "someone marked the image broken, not a photo or offensive"),
    "none_fits_conflict": ("“none fits” against chosen classes", "someone said none fits while another chose"),
}


@register.filter
def can_review(user: User) -> bool:
    """Whether `user` may use the review queue (annotator.permissions.access_review)."""
    return access_review(user)


@register.filter
def reason_label(code: str) -> str:
    """A dispute reason in words ("close vote"); an unknown code with its underscores as spaces."""
    return REASON_WORDS.get(code, (code.replace("_", " "), ""))[0]


@register.filter
def reason_help(code: str) -> str:
    """What a dispute reason means, for a tooltip."""
    return REASON_WORDS.get(code, ("", ""))[1]


@register.simple_tag
def select_options(choices: Iterable[tuple[int, str]], selected: int | None) -> SafeString:
    """`<option>`s of (id, label) pairs, `selected` marked, in one pass: the template loop (and even
    format_html_join) took most of the review queue page's time with a vocabulary of 1,000 classes."""
    return mark_safe(  # noqa: S308 — ids are ints, labels are escaped right here
        "".join(
            f'<option value="{int(pk)}"{" selected" if pk == selected else ""}>{escape(label)}</option>'
            for pk, label in choices
        )
    )
