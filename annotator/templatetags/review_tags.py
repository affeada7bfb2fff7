from django import template

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
