"""An annotator labels images in the workbench by keyboard alone, goes back to revise one, and the
database holds exactly what they did. Screenshots at 1366×768 and 1920×1080 show everything fits."""

from __future__ import annotations

import pytest

from annotator.models import Annotation, AnnotationRevision, LabelClass, Skip, Vote
from tests.browser.conftest import fits_viewport, has_horizontal_scroll, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _file_name(page) -> str:
    return page.inner_text("#wb-filename")


def _wait_for_next(page, previous: str) -> str:
    page.wait_for_function(
        "(previous) => { const n = document.getElementById('wb-filename').textContent; return n && n !== previous; }",
        arg=previous,
    )
    return _file_name(page)


def _open_workbench(page, url) -> None:
    page.goto(url("/datasets/photos/annotate/"))
    page.wait_for_selector("#workbench[data-ready=true]")
    page.wait_for_function("document.getElementById('wb-image').complete")


def test_an_annotator_labels_three_images_by_keyboard_and_revises_one(signed_in, url, annotator, photo_dataset):
    page = signed_in(annotator)
    _open_workbench(page, url)
    keys = page.keyboard

    # 1. Two candidate classes; a double Enter must not submit twice.
    first = _file_name(page)
    assert first == "c0_astronaut.jpg"
    keys.press("1")
    keys.press("2")
    assert page.locator(".wb-candidate[aria-pressed=true]").count() == 2
    screenshot(page, "workbench-chosen")
    keys.press("Enter")
    keys.press("Enter")
    second = _wait_for_next(page, first)
    assert page.inner_text("#wb-error").startswith("Choose at least one class") or not page.inner_text("#wb-error")

    # 2. A class found through the vocabulary search (arrow keys + Enter), then Enter on the empty search submits.
    keys.press("/")
    keys.type("tabby")
    page.wait_for_selector("#wb-results li[aria-selected=true]")
    keys.press("ArrowDown")
    keys.press("ArrowUp")
    keys.press("Enter")
    page.wait_for_selector("#wb-added li")
    keys.press("Enter")
    third = _wait_for_next(page, second)

    # 3. None of the candidates fits.
    keys.press("n")
    assert page.get_attribute("[data-flag=none_fits]", "aria-pressed") == "true"
    keys.press("Enter")
    fourth = _wait_for_next(page, third)

    # Back twice (← then Backspace) to the second image, add its first candidate, save, then return.
    keys.press("ArrowLeft")
    page.wait_for_function("(n) => document.getElementById('wb-filename').textContent === n", arg=third)
    keys.press("Backspace")
    page.wait_for_function("(n) => document.getElementById('wb-filename').textContent === n", arg=second)
    assert page.is_visible("#wb-banner") and page.get_attribute("#wb-added li", "title") is not None
    keys.press("1")
    screenshot(page, "workbench-revising")
    keys.press("Enter")
    page.wait_for_function("(n) => document.getElementById('wb-filename').textContent === n", arg=third)
    keys.press("Escape")
    page.wait_for_function("(n) => document.getElementById('wb-filename').textContent === n", arg=fourth)
    page.wait_for_function("document.querySelector('[data-progress=mine_total]').textContent === '3'")

    mine = {a.image.key: a for a in Annotation.objects.filter(annotator=annotator).select_related("image")}
    assert set(mine) == {first, second, third}
    one, two, three = mine[first], mine[second], mine[third]
    assert one.classes == one.shown[:2] and one.revision_count == 1
    assert AnnotationRevision.objects.filter(annotation=one).count() == 1
    tabby = LabelClass.objects.get(dataset=photo_dataset, name="tabby")
    assert two.classes == [two.shown[0], tabby.pk] and two.revision_count == 2
    assert list(two.revisions.values_list("classes", flat=True)) == [[tabby.pk], [two.shown[0], tabby.pk]]
    assert three.none_fits and three.classes == []
    assert dict(Vote.objects.filter(annotation=three).values_list("label_class", "answer")) == {
        class_id: "no" for class_id in three.shown
    }
    assert all(a.seconds > 0 for a in mine.values())


def test_everything_also_works_by_mouse_and_a_double_click_submits_once(signed_in, url, annotator, photo_dataset):
    page = signed_in(annotator)
    _open_workbench(page, url)
    first = _file_name(page)
    page.click(".wb-candidate >> nth=0")
    page.dblclick("#wb-submit")
    second = _wait_for_next(page, first)
    page.click("#wb-image")
    assert page.is_visible("#wb-zoom-layer")
    page.click("#wb-zoom-layer")
    assert not page.is_visible("#wb-zoom-layer")
    page.click("#wb-skip")
    third = _wait_for_next(page, second)
    page.click("[data-flag=bad_image]")
    page.click("#wb-submit")
    _wait_for_next(page, third)
    page.click("#wb-back")
    page.wait_for_function("(n) => document.getElementById('wb-filename').textContent === n", arg=third)
    assert page.get_attribute("[data-flag=bad_image]", "aria-pressed") == "true"

    answers = dict(Annotation.objects.filter(annotator=annotator).values_list("image__key", "bad_image"))
    assert answers == {first: False, third: True}
    assert AnnotationRevision.objects.filter(annotation__image__key=first).count() == 1
    assert Skip.objects.filter(annotator=annotator, image__key=second).exists()


@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_the_workbench_fits_the_screen_without_scrolling(signed_in, url, annotator, photo_dataset, width, height):
    page = signed_in(annotator)
    page.set_viewport_size({"width": width, "height": height})
    _open_workbench(page, url)
    page.wait_for_function("[...document.querySelectorAll('.wb-refs img')].every((img) => img.complete)")
    screenshot(page, f"workbench-{width}x{height}")
    assert not has_horizontal_scroll(page)
    assert fits_viewport(page, "#wb-image") and fits_viewport(page, ".wb-candidate")
    assert fits_viewport(page, "#wb-submit") and fits_viewport(page, ".wb-toggle")
    page.keyboard.press("/")
    page.keyboard.type("dog")
    screenshot(page, f"workbench-search-{width}x{height}")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    screenshot(page, f"workbench-help-{width}x{height}")
    assert page.is_visible("#wb-help")
