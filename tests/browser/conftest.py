"""Reusable browser fixtures: headless Debian Chromium through Playwright, against pytest-django's live server.

    @pytest.mark.browser
    def test_something(signed_in, annotator):
        page = signed_in(annotator)            # logged in through the real login form
        page.goto(url("/datasets/demo/annotate/"))
        screenshot(page, "something-1366")     # var/screenshots/something-1366.png

Tests using these fixtures run on a transactional database (the live server is another thread), so the
role groups the migrations create are ensured here again after other tests flushed them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from annotator.roles import ROLES
from tests.builders import REPO
from tests.builders.users import PASSWORD

# Playwright's sync API keeps an asyncio loop running in the test thread; Django would then refuse the test's
# own (synchronous) database calls. Those calls are safe here: the loop only drives the browser.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("RELABEL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
]  # fmt: skip
SCREENSHOTS = REPO / "var" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(autouse=True)
def _roles_exist(transactional_db) -> None:
    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def url(live_server) -> Callable[[str], str]:
    return lambda path: f"{live_server.url}{path}"


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page (own cookies) at 1366×768; any JavaScript error on it fails the test."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def signed_in(page, url) -> Callable:
    """Log a user in through the login form, by keyboard, and return the page."""

    def sign_in(user) -> object:
        page.goto(url("/accounts/login/"))
        page.focus("#id_username")
        page.keyboard.type(user.username)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/accounts/login/" not in page.url, "login failed"
        return page

    return sign_in


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def fits_viewport(page, selector: str) -> bool:
    """Whether every element matching `selector` lies inside the viewport without scrolling."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].every((node) => {
               const r = node.getBoundingClientRect();
               return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
           })""",
        selector,
    )


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > innerWidth")


@pytest.fixture
def photo_dataset(tmp_path, annotator):
    """Dataset "photos": the demo photographs three times over (21 images, so classes have reference thumbnails), the
    ImageNet vocabulary, stand-in candidates, N = 1, and `annotator` assigned to it."""
    import json
    import shutil

    from annotator.core.import_sources import ImageSpec
    from annotator.core.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
    from annotator.services.datasets import dataset_create, vocabulary_import
    from annotator.services.image_import import images_import
    from demo.services.photographs import DEMO_DIR, demo_candidates_create

    photos = json.loads((DEMO_DIR / "labels.json").read_text())["images"][:7]  # the seven photographs
    entries = [{**entry, "file": f"c{copy}_{entry['file']}"} for copy in range(3) for entry in photos]
    for entry in entries:
        shutil.copy(DEMO_DIR / entry["file"].split("_", 1)[1], tmp_path / entry["file"])
    dataset = dataset_create(slug="photos", name="Photos", annotations_per_image=1)
    vocabulary_import(dataset=dataset, classes=parse_vocabulary(BUILTIN_IMAGENET))
    specs = [ImageSpec(key=e["file"], path=tmp_path / e["file"], label=e["label"], source=e["file"]) for e in entries]
    images_import(dataset=dataset, specs=specs)
    demo_candidates_create(dataset=dataset, manifest={"images": entries})
    dataset.annotators.add(annotator)
    return dataset
