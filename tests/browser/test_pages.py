"""Pages as a person sees them in Chromium: the API docs offline, the error pages, the agreement chart."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _offline(page) -> list[str]:
    """Refuse every request that leaves this machine, as on a network without internet; returns the list of
    refused URLs (filled as the page asks)."""
    refused: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return refused


def test_the_api_docs_render_every_operation_without_internet(page, url):
    refused = _offline(page)
    page.goto(url("/api/docs/"))
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() >= 20
    assert "POST" in page.inner_text(".swagger-ui") and "/api/annotations/" in page.inner_text(".swagger-ui")
    screenshot(page, "api-docs-offline")
    assert refused == [], f"the docs asked for files outside this server: {refused}"


def test_error_pages_look_like_the_site(signed_in, url, annotator):
    page = signed_in(annotator)
    response = page.goto(url("/review/"))
    assert response.status == 403 and page.is_visible(".topbar") and "No access" in page.inner_text("main")
    screenshot(page, "error-403")
    response = page.goto(url("/datasets/nothing-here/annotate/x"))
    assert response.status == 404 and page.is_visible(".topbar") and "Page not found" in page.inner_text("main")
    screenshot(page, "error-404")


def test_the_release_forms_aggregation_select_fits_its_longest_choice(signed_in, url, researcher, tmp_path):
    from tests.builders.releases import voted_dataset

    dataset = voted_dataset(tmp_path)
    page = signed_in(researcher)
    page.goto(url(f"/datasets/{dataset.slug}/releases/"))
    fits = page.evaluate(
        """() => {
            const select = document.querySelector('#id_aggregation');
            const style = getComputedStyle(select);
            const context = document.createElement('canvas').getContext('2d');
            context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const inner = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            const widest = Math.max(...[...select.options].map((o) => context.measureText(o.text).width));
            const input = document.querySelector('#id_threshold').getBoundingClientRect().width;
            return {widest, inner, select: select.getBoundingClientRect().width, input};
        }"""
    )
    screenshot(page, "release-form")
    assert fits["widest"] + 24 <= fits["inner"], fits  # room for the text and the arrow
    assert abs(fits["select"] - fits["input"]) < 2, fits  # as wide as the other fields


def test_every_label_of_the_agreement_charts_lies_inside_its_chart(signed_in, url, reviewer, team):
    from annotator.services.agreement_figures import agreement_compute
    from tests.builders.review import review_dataset

    agreement_compute(dataset=review_dataset(team))
    page = signed_in(reviewer)
    page.goto(url("/datasets/pets/agreement/"))
    outside = page.evaluate(
        """() => [...document.querySelectorAll('.chart')].flatMap((chart) => {
            const box = chart.getBoundingClientRect();
            return [...chart.querySelectorAll('text, figcaption, p')].filter((node) => {
                const r = node.getBoundingClientRect();
                return r.width > 0 && (r.left < box.left || r.right > box.right || r.bottom > box.bottom);
            }).map((node) => node.textContent);
        })"""
    )
    page.locator(".charts").screenshot(path=str(screenshot(page, "agreement-charts").with_name("agreement-charts.png")))
    assert page.locator(".chart").count() == 3  # agreement, label-set sizes, answers per image
    assert outside == []
    assert "mean P(two annotators agree)" in page.inner_text(".charts")
