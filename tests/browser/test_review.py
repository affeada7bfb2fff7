"""A reviewer resolves two disputed images by keyboard and asks for more annotations on a third; the
consensus, the audit trail, the agreement dashboard's counts and the annotation queue follow."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from annotator.models import Adjudication, Candidate, Consensus, Image
from annotator.roles import ANNOTATOR
from annotator.services.annotations import Answer
from annotator.services.assignment import dataset_overlap_raise, lease_next
from tests.browser.conftest import fits_viewport, has_horizontal_scroll, screenshot
from tests.builders.review import answer_images
from tests.builders.users import user_with_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def disputed_photos(photo_dataset, team):
    """Photos with N = 3: the first three images disputed (a split plus an unsure), the fourth agreed."""
    dataset_overlap_raise(dataset=photo_dataset, annotations_per_image=3)
    photo_dataset.annotators.add(*team)
    candidates = {p: [] for p in range(4)}
    for position, class_id in (
        Candidate.objects.filter(image__dataset=photo_dataset, image__position__lt=4)
        .order_by("image__position", "source", "id")
        .values_list("image__position", "label_class_id")
    ):
        candidates[position].append(class_id)
    for number, user in enumerate(team):
        answers = {}
        for position, (first, second, *_rest) in candidates.items():
            disputed = [Answer(classes=[first, second]), Answer(classes=[first]), Answer(classes=[first], unsure=True)]
            answers[position] = disputed[number] if position < 3 else Answer(classes=[first])
        answer_images(photo_dataset, user, answers)
    return photo_dataset


def _tile(page, label: str) -> int:
    return int(page.inner_text(f".tile:has(.tile-label:text-is('{label}')) .tile-value"))


def _open(page, url, path: str) -> None:
    page.goto(url(path))
    _seen(page)


def _seen(page) -> None:
    """Wait until the image has been on screen long enough for decision keys to count."""
    page.wait_for_selector("#review[data-armed=true]")


def test_a_reviewer_resolves_two_images_by_keyboard_and_asks_for_more_on_a_third(
    signed_in, url, reviewer, disputed_photos
):
    dataset = disputed_photos
    assert Consensus.objects.filter(dataset=dataset, status="disputed").count() == 3
    page = signed_in(reviewer)
    page.goto(url("/datasets/photos/agreement/"))
    before = {label: _tile(page, label) for label in ("Disputed", "Adjudicated", "Pending")}
    assert before["Disputed"] == 3 and before["Adjudicated"] == 0

    page.goto(url("/review/photos/"))
    assert page.locator("#rv-queue tbody tr[data-image]").count() == 3
    screenshot(page, "review-queue")
    order = [
        int(i) for i in page.eval_on_selector_all("#rv-queue tr[data-image]", "rows => rows.map(r => r.dataset.image)")
    ]

    # 1. Enter opens the most contested image: toggle the first class row, leave a note, save with Enter.
    page.wait_for_selector("#rv-queue[data-ready=true]")
    page.keyboard.press("j")
    page.keyboard.press("k")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    _seen(page)
    assert f"/review/photos/images/{order[0]}/?status=open" in page.url
    assert not has_horizontal_scroll(page) and fits_viewport(page, "#rv-image")
    screenshot(page, "review-screen")
    rows = page.eval_on_selector_all(
        ".rv-class", "rows => rows.map(r => [Number(r.dataset.class), r.getAttribute('aria-pressed')])"
    )
    chosen = {c for c, pressed in rows if pressed == "true"} ^ {rows[0][0]}
    keys = page.keyboard
    keys.press("1")
    assert page.get_attribute(".rv-class >> nth=0", "aria-pressed") == ("true" if rows[0][0] in chosen else "false")
    keys.press("n")
    keys.type("checked the ears")
    keys.press("Escape")
    with page.expect_navigation():
        keys.press("Enter")
    _seen(page)
    assert f"/images/{order[1]}/" in page.url  # the next image of the queue opened

    # 2. The next one is a bad image: B, then Enter.
    keys.press("b")
    assert page.get_attribute("[data-decision=exclude-bad]", "aria-pressed") == "true"
    assert "bad image" in page.inner_text("#rv-summary")
    with page.expect_navigation():
        keys.press("Enter")
    _seen(page)
    assert f"/images/{order[2]}/" in page.url

    # 3. The third needs more annotators: M, then Enter; nothing is left, so the queue opens again.
    keys.press("m")
    with page.expect_navigation():
        keys.press("Enter")
    assert "/review/photos/" in page.url and "/images/" not in page.url
    assert page.locator("#rv-queue tbody tr[data-image]").count() == 0
    assert page.inner_text(".rv-tab[data-status=adjudicated] b") == "1"
    assert page.inner_text(".rv-tab[data-status=excluded] b") == "1"
    assert page.inner_text(".rv-tab[data-status=pending] b") == "1"

    # The consensus follows the decisions.
    first, second, third = (Consensus.objects.get(image_id=i) for i in order)
    assert (first.status, first.adjudicated, first.excluded, sorted(first.labels)) == (
        "adjudicated", True, False, sorted(chosen)
    )  # fmt: skip
    assert (second.status, second.excluded, second.labels) == ("adjudicated", True, [])
    assert third.status == "pending" and not third.adjudicated
    assert Image.objects.get(pk=order[2]).annotations_needed == 4

    # The audit trail names the reviewer, the actions, the sets and the note, and the history page shows it.
    trail = list(
        Adjudication.objects.order_by("created_at", "id").values_list("image_id", "reviewer", "action", "note")
    )
    assert trail == [
        (order[0], reviewer.pk, "set", "checked the ears"),
        (order[1], reviewer.pk, "exclude-bad", ""),
        (order[2], reviewer.pk, "more", ""),
    ]
    page.goto(url(f"/images/{order[0]}/history/"))
    assert "checked the ears" in page.inner_text("#rv-adjudications")
    assert page.locator("#rv-revisions tbody tr").count() == 3
    screenshot(page, "review-history")

    # The agreement dashboard counts moved: two adjudicated, one back to pending.
    page.goto(url("/datasets/photos/agreement/"))
    after = {label: _tile(page, label) for label in ("Disputed", "Adjudicated", "Pending")}
    assert after == {"Disputed": 0, "Adjudicated": 2, "Pending": before["Pending"] + 1}

    # And the image asked about is the first another annotator gets.
    newcomer = user_with_roles("dora", ANNOTATOR)
    assert Group.objects.get(name=ANNOTATOR).user_set.filter(pk=newcomer.pk).exists()
    dataset.annotators.add(newcomer)
    assert lease_next(dataset=dataset, annotator=newcomer).image_id == order[2]


def test_the_review_screen_shows_its_keys_and_reverts_by_keyboard(signed_in, url, reviewer, disputed_photos):
    from annotator.services.review import adjudication_set

    image = Consensus.objects.filter(dataset=disputed_photos, status="disputed").first()
    computed = list(image.labels)
    adjudication_set(image_id=image.image_id, reviewer=reviewer, labels=[])
    page = signed_in(reviewer)
    _open(page, url, f"/review/photos/images/{image.image_id}/")
    legend = page.inner_text(".rv-legend")
    for key in ("Enter", "B", "A", "M", "R", "J", "K", "/"):
        assert key in legend
    page.keyboard.press("r")
    assert "revert" in page.inner_text("#rv-summary")
    screenshot(page, "review-adjudicated")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    consensus = Consensus.objects.get(pk=image.pk)
    assert (consensus.adjudicated, consensus.status, consensus.labels) == (False, "disputed", computed)


def test_enter_pressed_twice_records_one_decision(signed_in, url, reviewer, disputed_photos):
    image = Consensus.objects.filter(dataset=disputed_photos, status="disputed").first()
    page = signed_in(reviewer)
    _open(page, url, f"/review/photos/images/{image.image_id}/")
    with page.expect_navigation():
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # while the first is in flight
    assert Adjudication.objects.filter(image_id=image.image_id).count() == 1


def test_enter_in_the_note_never_saves_and_keys_wait_until_the_next_image_was_seen(
    signed_in, url, reviewer, disputed_photos
):
    page = signed_in(reviewer)
    page.goto(url("/review/photos/?status=open"))
    order = [
        int(i) for i in page.eval_on_selector_all("#rv-queue tr[data-image]", "rs => rs.map(r => r.dataset.image)")
    ]
    _open(page, url, f"/review/photos/images/{order[0]}/?status=open")
    first_name = page.inner_text("#rv-filename")
    keys = page.keyboard

    # Enter in the note leaves the note: nothing is saved, the same image stays, the note is kept.
    keys.press("n")
    keys.type("looked twice")
    keys.press("Enter")
    page.wait_for_timeout(300)
    assert f"/images/{order[0]}/" in page.url and not Adjudication.objects.exists()
    assert page.evaluate("document.activeElement.id") != "rv-note"
    assert page.input_value("#rv-note") == "looked twice"

    # A second Enter saves (it is now a deliberate one) and opens the next image, which names what was saved.
    chosen = page.eval_on_selector_all(
        ".rv-class[aria-pressed=true] .rv-name", "names => names.map(n => n.textContent)"
    )
    with page.expect_navigation():
        keys.press("Enter")
    page.wait_for_selector("#review[data-ready=true]")
    keys.press("Enter")  # at once: the image has not been seen yet, so this must not decide anything
    keys.press("b")
    assert "only just appeared" in page.inner_text("#rv-wait")
    page.wait_for_timeout(1000)
    assert f"/images/{order[1]}/" in page.url
    assert list(Adjudication.objects.values_list("image_id", "note")) == [(order[0], "looked twice")]
    saved = page.inner_text("#rv-saved")
    assert first_name in saved and all(name in saved for name in chosen), saved
    assert page.get_attribute("[data-decision=exclude-bad]", "aria-pressed") == "false"
    screenshot(page, "review-saved-line")

    # Once seen, Ctrl+Enter saves from inside the note; the queue page then names the decision.
    _seen(page)
    second_name = page.inner_text("#rv-filename")
    keys.press("b")
    keys.press("n")
    keys.type("blurred")
    with page.expect_navigation():
        keys.press("Control+Enter")
    assert Adjudication.objects.get(image_id=order[1]).action == "exclude-bad"
    page.wait_for_selector("#review[data-ready=true], #rv-queue[data-ready=true]")
    assert second_name in page.inner_text("#rv-saved") and "bad image" in page.inner_text("#rv-saved")
