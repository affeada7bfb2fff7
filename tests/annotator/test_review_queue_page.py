"""The review queue as reviewers read it: "lowest agreement first", with images without an agreement figure
(no class had two answers, e.g. everyone said bad image) after every image with one, not among the 0.00 rows;
and why an image is there in words, not reason codes."""

from __future__ import annotations

import pytest

from annotator.models import Consensus, Image, LabelClass
from annotator.selectors.review_queue import QueueFilter, queue_rows
from annotator.services.annotations import Answer
from annotator.services.review import adjudication_set
from tests.builders.review import image_at, review_dataset

pytestmark = pytest.mark.django_db


def plan(c):
    return {
        # every candidate split yes / no: agreement 0.00, two flags (none fits, bad image)
        0: [Answer(classes=[c(0), c(1), c(2)]), Answer(none_fits=True), Answer(bad_image=True)],
        # nobody judged a class: no agreement figure, three flags
        1: [Answer(bad_image=True)] * 3,
        # a 2–1 split on one class: agreement between 0 and 1
        2: [Answer(classes=[c(2), c(3)]), Answer(classes=[c(2)]), Answer(classes=[c(2)], unsure=True)],
    }


def test_images_without_an_agreement_figure_come_after_the_lowest_agreement(team, reviewer, client):
    pets = review_dataset(team, plan=plan)
    zero, none, split = (image_at(pets, p) for p in (0, 1, 2))
    agreement = dict(Consensus.objects.filter(dataset=pets).values_list("image_id", "agreement"))
    assert agreement[zero.pk] == 0.0 and agreement[none.pk] is None and 0 < agreement[split.pk] < 1
    order = list(queue_rows(pets, QueueFilter()).values_list("image_id", flat=True))
    assert order == [zero.pk, split.pk, none.pk]

    client.force_login(reviewer)
    html = client.get("/review/pets/").content.decode()
    assert html.index(f'data-image="{split.pk}"') < html.index(f'data-image="{none.pk}"')
    assert "no agreement figure (–) last" in html


def test_reasons_read_as_words_on_the_queue_and_the_review_screen(team, reviewer, client):
    pets = review_dataset(team, plan=plan)
    split = image_at(pets, 2)
    reasons = Consensus.objects.get(image=split).dispute_reasons
    assert "near_threshold" in reasons and "unsure" in reasons
    client.force_login(reviewer)
    for path in ("/review/pets/", f"/review/pets/images/{split.pk}/"):
        html = client.get(path).content.decode()
        assert "close vote" in html and "an annotator was unsure" in html, path
        assert "near_threshold" not in html and "none_fits_conflict" not in html, path
    assert "“none fits” against chosen classes" in client.get("/review/pets/").content.decode()


def test_queue_rows_escape_names_and_link_each_image_with_the_filter(team, reviewer, client):
    pets = review_dataset(team, plan=plan)
    zero = image_at(pets, 0)
    Image.objects.filter(pk=zero.pk).update(key='<b>"zero" & co</b>.jpg')
    original = zero.original_label
    LabelClass.objects.filter(pk=original.pk).update(name="<i>tench</i>")
    adjudication_set(image_id=zero.pk, reviewer=reviewer, labels=[original.pk])
    client.force_login(reviewer)
    html = client.get("/review/pets/?status=all").content.decode()
    row = html.split(f'<tr data-image="{zero.pk}">')[1].split("</tr>")[0]
    name = "&lt;b&gt;&quot;zero&quot; &amp; co&lt;/b&gt;.jpg"
    assert f'<a href="/review/pets/images/{zero.pk}/?status=all">{name}</a>' in row
    assert row.count("&lt;i&gt;tench&lt;/i&gt;") == 2  # the label set and the original label
    assert '<td class="num">1</td>' in row and '<td class="num">0.00</td>' in row
    assert '<span class="rv-status rv-adjudicated">adjudicated</span>' in row
    assert '<span class="rv-flag">bad image 1</span> <span class="rv-flag">none fits 1</span>' in row
    assert "<b>" not in row and "<i>" not in row
