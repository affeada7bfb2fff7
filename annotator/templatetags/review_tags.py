from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from annotator.permissions import User, access_review
from annotator.templatetags.numbers import count, decimals

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


_SOME_ID = 2**31 - 1  # stands for the image id in the review screen's URL, reversed once per page


@register.simple_tag
def queue_rows(rows: Iterable[Mapping[str, Any]], *, first_row: int, slug: str, query: str) -> SafeString:
    """The review queue's table rows (the dicts of annotator.selectors.review_queue), numbered from `first_row + 1`,
    each image linking to its review screen with the queue's filter `query`, in one pass: the template loop, with
    a `{% url %}` and five filters per row, took a third of the page's time (10 ms of 30 for 50 rows)."""
    head, tail = reverse("review:image", args=[slug, _SOME_ID]).rsplit(str(_SOME_ID), 1)
    suffix = escape(f"{tail}?{query}")
    html = [_queue_row(row, first_row + number, f"{escape(head)}{int(row['image_id'])}{suffix}")
            for number, row in enumerate(rows, start=1)]  # fmt: skip
    return mark_safe("".join(html))  # noqa: S308 — every value is escaped or a number, right here


def _queue_row(row: Mapping[str, Any], number: int, url: str) -> str:
    thumbnail = f'<img class="rv-thumb" src="{escape(row["thumbnail_url"])}" alt="" loading="lazy">' if row[
        "thumbnail_url"] else ""  # fmt: skip
    status = f'<span class="rv-status rv-{escape(row["status"])}">{escape(row["status"])}'
    status += " · excluded</span>" if row["excluded"] else "</span>"
    if row["more_requested_at"] and row["status"] == "pending":
        status += f' <span class="muted small">{int(row["annotation_count"])}/{int(row["annotations_needed"])}</span>'
    if row["open_reason"]:
        status += f' <span class="muted small rv-open-reason">{escape(row["open_reason"])}</span>'
    reasons = "".join(
        f'<span class="rv-reason" title="{escape(reason_help(code))}">{escape(reason_label(code))}</span> '
        for code in row["dispute_reasons"]
    )
    flags = row["flags"]
    flag_html = " ".join(
        f'<span class="rv-flag">{words} {int(flags[key])}</span>'
        for key, words in (("bad_image", "bad image"), ("none_fits", "none fits"), ("unsure", "unsure"))
        if flags[key]
    )
    labels = " · ".join(escape(label["name"]) for label in row["labels"]) or '<span class="muted">∅</span>'
    original = escape(row["original_label"]["name"]) if row["original_label"] else "–"
    return (
        f'<tr data-image="{int(row["image_id"])}"><td class="num">{count(number)}</td><td>{thumbnail}</td>'
        f'<td><a href="{url}">{escape(row["file_name"])}</a></td><td>{status}</td><td>{reasons}</td>'
        f'<td class="num">{decimals(row["agreement"])}</td><td>{flag_html}</td><td>{labels}</td>'
        f"<td>{original}</td></tr>"
    )
