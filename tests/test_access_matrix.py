"""Role × endpoint: every URL the project routes, probed as every persona, against one expectation table.

The URL patterns are enumerated from the root resolver, so a URL added anywhere must be classified in
EXPECTED below before the suite passes again. Each probe runs in a savepoint that is rolled back, so one
persona's writes never change what the next probe sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from annotator.models import Annotation, Dataset, Lease
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.pilots import pilot_create
from config.celery import app as celery_app
from config.views import MEDIA_ACCESS
from evaluation.models import PredictionSet, Release
from evaluation.services.prediction_sets import prediction_set_create
from tests.builders.annotations import workbench_dataset
from tests.builders.releases import built_release
from tests.builders.users import PASSWORD, user_with_roles
from tests.error_contract import assert_error_body, is_api_refusal

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "annotator of another dataset", "annotator", "reviewer", "researcher", "staff")
FIXTURE_OF = {
    "annotator of another dataset": "second_annotator", "annotator": "annotator", "reviewer": "reviewer",
    "researcher": "researcher", "staff": "staff",
}  # fmt: skip


@dataclass
class World:
    pets: Dataset  # the annotator's dataset; "annotator of another dataset" annotates birds
    mine: Annotation  # the annotator's own
    theirs: Annotation  # a third annotator's, in the same dataset: the IDOR target
    leased: Lease  # an image the annotator holds
    theirs_leased: Lease  # an image the third annotator holds
    prediction_set: PredictionSet
    releases: list[Release]  # two ready releases of pets


@pytest.fixture
def world(
    annotator, second_annotator, reviewer, researcher, staff, settings, tmp_path, django_capture_on_commit_callbacks
) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    cleo = user_with_roles("cleo", "annotator")
    pets = workbench_dataset(slug="pets", candidates_per_image=2, annotators=[annotator, cleo])
    workbench_dataset(slug="birds", annotators=[second_annotator])

    def answered(user) -> Annotation:
        lease = lease_next(dataset=pets, annotator=user)
        annotation, _ = annotation_submit(
            annotator=user, image_id=lease.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
        )
        return annotation

    mine, theirs = answered(annotator), answered(cleo)
    rows = "\n".join(f"{image.key},{image.position % 5} {(image.position + 1) % 5}" for image in pets.images.all())
    prediction_set = prediction_set_create(
        dataset=pets, name="model", source=ContentFile(f"image,top5\n{rows}\n".encode(), name="model.csv")
    )
    thumbnail = settings.MEDIA_ROOT / "datasets/pets/thumbnails/0000.jpg"
    thumbnail.parent.mkdir(parents=True)
    thumbnail.write_bytes(b"\xff\xd8\xff\xd9")
    leased = lease_next(dataset=pets, annotator=annotator)
    # Both would hold the image closest to completion first; cleo's prefetch is another one.
    theirs_first = lease_next(dataset=pets, annotator=cleo)
    theirs_leased = lease_next(dataset=pets, annotator=cleo, exclude={theirs_first.image_id})
    assert theirs_leased.image_id != leased.image_id
    pilot_create(dataset=pets, n=3, seed=1)
    celery_app.conf.task_always_eager = True
    try:
        releases = [built_release(pets, django_capture_on_commit_callbacks) for _ in range(2)]
    finally:
        celery_app.conf.task_always_eager = False
    return World(pets, mine, theirs, leased, theirs_leased, prediction_set, releases)


def _answer(**fields) -> dict:
    return {"classes": [], "unsure": True, "client_uuid": str(uuid.uuid4()), **fields}


def _upload(w: World) -> dict:
    rows = "\n".join(f"{image.key},{image.position % 5}" for image in w.pets.images.all())
    return {"name": "new", "file": ContentFile(f"image,top5\n{rows}\n".encode(), name="new.csv")}


@dataclass
class Probe:
    method: str
    kwargs: Callable[[World], dict] = lambda w: {}
    body: Callable[[World], dict | None] = lambda w: None
    # One status per persona, in PERSONAS order. Anonymous pages redirect to the login (302); anonymous API
    # calls get 403 (session authentication sends no challenge).
    expected: tuple[int, ...] = ()
    query: str = ""
    multipart: bool = False
    label: str = ""


PETS = {"kwargs": lambda w: {"slug": w.pets.slug}}
PETS_WITH_ITSELF = {"kwargs": lambda w: {"slug": w.pets.slug, "other": w.pets.slug}}  # one vocabulary, trivially
PUBLIC = (200,) * 6
SIGNED_IN = (302, 200, 200, 200, 200, 200)
ANNOTATORS_OF_PETS_PAGE = (302, 403, 200, 403, 403, 403)
ANNOTATORS_OF_PETS_API = (403, 403, 200, 403, 403, 403)
VIEWERS_PAGE = (302, 403, 403, 200, 200, 200)  # reviewers, researchers, staff
VIEWERS_API = (403, 403, 403, 200, 200, 200)
RESEARCHERS_PAGE = (302, 403, 403, 403, 200, 200)  # researchers and staff
RESEARCHERS_API = (403, 403, 403, 403, 200, 200)
REVIEWERS_PAGE = (302, 403, 403, 200, 403, 200)  # reviewers and staff
REVIEWERS_API = (403, 403, 403, 200, 403, 200)
REVIEWERS_WRITE = (403, 403, 403, 201, 403, 201)

# URL name (or the route of an unnamed pattern) → every probe of it. The single source of truth.
EXPECTED: dict[str, list[Probe]] = {
    "datasets:home": [Probe("get", expected=SIGNED_IN)],
    "datasets:api-datasets": [Probe("get", expected=(403, 200, 200, 200, 200, 200))],
    "healthz": [Probe("get", expected=PUBLIC)],
    "ping": [Probe("get", expected=PUBLIC)],
    "login": [Probe("get", expected=PUBLIC)],
    "logout": [Probe("post", expected=(302,) * 6), Probe("get", expected=(405,) * 6)],
    "api-schema": [Probe("get", expected=PUBLIC)],
    "api-docs": [Probe("get", expected=PUBLIC)],
    "media": [
        Probe("get", lambda w: {"path": "datasets/pets/thumbnails/0000.jpg"}, expected=SIGNED_IN, label="an image"),
        Probe(
            "get",
            lambda w: {"path": w.prediction_set.source_file.name},
            expected=VIEWERS_PAGE,
            label="a prediction set's file",
        ),
        Probe(
            "get",
            lambda w: {"path": w.releases[0].files.get(kind="real").storage_name},
            expected=RESEARCHERS_PAGE,
            label="a release file",
        ),
        Probe("get", lambda w: {"path": "elsewhere/x.txt"}, expected=(302, 403, 403, 403, 403, 404), label="other"),
    ],  # fmt: skip
    "annotations:workbench": [Probe("get", **PETS, expected=ANNOTATORS_OF_PETS_PAGE)],
    "accounts:api-token": [
        Probe("post", body=lambda w: {"username": "anna", "password": PASSWORD}, expected=PUBLIC),
        Probe("post", body=lambda w: {"username": "anna", "password": "wrong"}, expected=(400,) * 6, label="wrong"),
    ],
    "annotations:api-next": [
        Probe("post", **PETS, body=lambda w: {"exclude": [w.leased.image_id]}, expected=ANNOTATORS_OF_PETS_API)
    ],
    "annotations:api-progress": [Probe("get", **PETS, expected=ANNOTATORS_OF_PETS_API)],
    "annotations:api-vocabulary": [Probe("get", **PETS, expected=(403, 403, 200, 200, 200, 200))],
    "annotations:api-skip": [
        Probe("post", lambda w: {"image_id": w.leased.image_id}, expected=(403, 400, 204, 403, 403, 400)),
        Probe(
            "post",
            lambda w: {"image_id": w.theirs_leased.image_id},
            expected=(403, 400, 400, 403, 403, 400),
            label="IDOR: another's lease",
        ),
    ],  # fmt: skip
    "annotations:api-annotations": [
        # Lists only the caller's own rows: an annotator of another dataset, or staff, gets an empty list.
        Probe("get", query="?dataset=pets", expected=(403, 200, 200, 403, 403, 200)),
        Probe("post", body=lambda w: _answer(image=w.leased.image_id), expected=(403, 400, 201, 403, 403, 400)),
        Probe(
            "post",
            body=lambda w: _answer(image=w.theirs_leased.image_id),
            expected=(403, 400, 400, 403, 403, 400),
            label="IDOR: another's leased image",
        ),
    ],  # fmt: skip
    "annotations:api-annotation": [
        Probe("get", lambda w: {"pk": w.mine.pk}, expected=(403, 404, 200, 403, 403, 404)),
        Probe(
            "put",
            lambda w: {"pk": w.mine.pk},
            body=lambda w: _answer(none_fits=True, unsure=False),
            expected=(403, 404, 200, 403, 403, 404),
        ),
        Probe("get", lambda w: {"pk": w.theirs.pk}, expected=(403, 404, 404, 403, 403, 404), label="IDOR"),
        Probe(
            "put",
            lambda w: {"pk": w.theirs.pk},
            body=lambda w: _answer(none_fits=True, unsure=False),
            expected=(403, 404, 404, 403, 403, 404),
            label="IDOR",
        ),
    ],  # fmt: skip
    "leaderboard:index": [Probe("get", expected=VIEWERS_PAGE)],
    "leaderboard:leaderboard": [Probe("get", **PETS, expected=VIEWERS_PAGE)],
    "leaderboard:leaderboard-csv": [Probe("get", **PETS, expected=VIEWERS_PAGE)],
    "prediction_sets:upload": [
        Probe("get", **PETS, expected=(302, 403, 403, 403, 200, 200)),
        Probe("post", **PETS, body=_upload, multipart=True, expected=(302, 403, 403, 403, 302, 302)),
    ],
    "prediction_sets:candidate-sources": [
        Probe(
            "post",
            **PETS,
            body=lambda w: {"prediction_sets": [w.prediction_set.pk]},
            multipart=True,
            expected=(302, 403, 403, 403, 302, 302),
        ),
        Probe("get", **PETS, expected=(302, 403, 403, 403, 405, 405)),
    ],  # fmt: skip
    "prediction_sets:prediction-set": [Probe("get", lambda w: {"pk": w.prediction_set.pk}, expected=VIEWERS_PAGE)],
    "prediction_sets:api-prediction-sets": [
        Probe("get", **PETS, expected=VIEWERS_API),
        Probe("post", **PETS, body=_upload, multipart=True, expected=(403, 403, 403, 403, 201, 201)),
    ],
    "prediction_sets:api-snapshots": [Probe("get", lambda w: {"pk": w.prediction_set.pk}, expected=VIEWERS_API)],
    "leaderboard:api-leaderboard": [Probe("get", **PETS, expected=VIEWERS_API)],
    "dataset_compare:choose": [Probe("get", query="?a=pets&b=pets", expected=(302, 403, 403, 302, 302, 302))],
    "dataset_compare:compare": [Probe("get", **PETS_WITH_ITSELF, expected=VIEWERS_PAGE)],
    "dataset_compare:compare-csv": [Probe("get", **PETS_WITH_ITSELF, expected=VIEWERS_PAGE)],
    "dataset_compare:api-compare": [Probe("get", **PETS_WITH_ITSELF, expected=VIEWERS_API)],
    "pilots:pilot": [Probe("get", **PETS, expected=VIEWERS_PAGE)],
    "pilots:api-pilot": [
        Probe("get", **PETS, expected=VIEWERS_API),
        Probe("post", **PETS, body=lambda w: {"n": 2, "mode": "uniform"}, expected=(403, 403, 403, 403, 201, 201)),
    ],
    "consensus:dashboard": [Probe("get", **PETS, expected=VIEWERS_PAGE)],
    "consensus:api-agreement": [
        Probe("get", **PETS, expected=VIEWERS_API),
        Probe("post", **PETS, expected=(403, 403, 403, 202, 202, 202)),
    ],
    "consensus:api-redundancy": [
        Probe("get", **PETS, expected=VIEWERS_API),
        Probe("put", **PETS, body=lambda w: {"redundancy": "adaptive"}, expected=(403, 403, 403, 403, 403, 200)),
    ],
    "consensus:api-queue-order": [
        Probe("get", **PETS, expected=VIEWERS_API),
        Probe("put", **PETS, body=lambda w: {"queue_order": "model_guided"}, expected=(403, 403, 403, 403, 403, 200)),
    ],
    # Review: reviewers and staff only; pages redirect anonymous users to the login.
    "review:index": [Probe("get", expected=REVIEWERS_PAGE)],
    "review:queue": [Probe("get", **PETS, expected=REVIEWERS_PAGE)],
    "review:image": [Probe("get", lambda w: {"slug": "pets", "image_id": w.mine.image_id}, expected=REVIEWERS_PAGE)],
    "review:history": [Probe("get", lambda w: {"image_id": w.mine.image_id}, expected=REVIEWERS_PAGE)],
    "review:api-queue": [Probe("get", **PETS, expected=REVIEWERS_API)],
    "review:api-image": [Probe("get", lambda w: {"image_id": w.mine.image_id}, expected=REVIEWERS_API)],
    "review:api-adjudications": [
        Probe("get", lambda w: {"image_id": w.mine.image_id}, expected=REVIEWERS_API),
        Probe(
            "post",
            lambda w: {"image_id": w.mine.image_id},
            body=lambda w: {"action": "exclude-bad", "note": "probe"},
            expected=REVIEWERS_WRITE,
        ),
    ],  # fmt: skip
    "review:api-more": [
        Probe("post", lambda w: {"image_id": w.mine.image_id}, body=lambda w: {}, expected=REVIEWERS_WRITE)
    ],
    # Releases: researchers and staff only.
    "releases:releases-index": [Probe("get", expected=RESEARCHERS_PAGE)],
    "releases:releases": [
        Probe("get", **PETS, expected=RESEARCHERS_PAGE),
        Probe(
            "post", **PETS, body=lambda w: {"threshold": "0.6"}, multipart=True, expected=(302, 403, 403, 403, 302, 302)
        ),
    ],
    "releases:release-compare": [Probe("get", **PETS, expected=RESEARCHERS_PAGE)],
    "releases:release": [Probe("get", lambda w: {"pk": w.releases[0].pk}, expected=RESEARCHERS_PAGE)],
    "releases:api-releases": [
        Probe("get", **PETS, expected=RESEARCHERS_API),
        Probe("post", **PETS, body=lambda w: {"threshold": 0.6}, expected=(403, 403, 403, 403, 202, 202)),
    ],
    "releases:api-release": [Probe("get", lambda w: {"pk": w.releases[0].pk}, expected=RESEARCHERS_API)],
    "releases:api-release-progress": [Probe("get", lambda w: {"pk": w.releases[0].pk}, expected=RESEARCHERS_API)],
    "releases:api-release-file": [
        Probe("get", lambda w, kind=kind: {"pk": w.releases[0].pk, "kind": kind}, expected=RESEARCHERS_API, label=kind)
        for kind in ("real", "zip")
    ],
    "releases:api-release-compare": [
        Probe("get", lambda w: {"pk": w.releases[0].pk, "other": w.releases[1].pk}, expected=RESEARCHERS_API)
    ],
}
# Django's admin wraps every view of its namespace in admin_view: anyone but staff is sent to the admin's
# login; staff reach the admin's own model permissions. One rule for the namespace, probed on every URL.
ADMIN_PUBLIC = {"admin:login", "admin:logout"}


@dataclass
class Route:
    key: str  # URL name with namespaces, or the route itself when the pattern has no name
    name: str | None
    route: str
    converters: list[str] = field(default_factory=list)


def routes(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
            yield from routes(pattern, prefix + str(pattern.pattern), inner or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            route = prefix + str(pattern.pattern)
            yield Route(key=name or route, name=name, route=route, converters=list(pattern.pattern.converters))


def _is_admin(route: Route) -> bool:
    return route.route.startswith("admin/")


def test_every_routed_url_is_classified_in_the_expectation_table():
    unclassified = [f"{r.key!r} ({r.route})" for r in routes() if r.key not in EXPECTED and not _is_admin(r)]
    assert not unclassified, (
        "These URLs are routed but not classified in tests/test_access_matrix.py EXPECTED; add one Probe per "
        "method with the status each persona must get (anonymous, annotator of another dataset, annotator, "
        "reviewer, researcher, staff):\n  " + "\n  ".join(unclassified)
    )
    stale = set(EXPECTED) - {r.key for r in routes()}
    assert not stale, f"EXPECTED names URLs that no longer exist: {sorted(stale)}"


def _client(request, persona: str) -> APIClient:
    client = APIClient()
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(FIXTURE_OF[persona]))
    return client


def _send(client: APIClient, method: str, url: str, body: dict | None, multipart: bool, **extra):
    if body is None:
        return getattr(client, method)(url, **extra)
    return getattr(client, method)(url, body, format="multipart" if multipart else "json", **extra)


def _run(client: APIClient, method: str, url: str, body: dict | None = None, multipart: bool = False, **extra):
    """One request in a savepoint that is rolled back afterwards."""
    with transaction.atomic():
        response = _send(client, method, url, body, multipart, **extra)
        transaction.set_rollback(True)
    if is_api_refusal(url, response):
        assert_error_body(response, f"{method.upper()} {url}")
    return response


def _redirects_to_login(response, login_path: str = "/accounts/login/") -> bool:
    return response.status_code == 302 and response["Location"].startswith(login_path)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_exactly_the_expected_status_from_every_app_url(request, world, persona):
    column = PERSONAS.index(persona)
    mismatches = []
    for key, probes in EXPECTED.items():
        for probe in probes:
            url = reverse(key, kwargs=probe.kwargs(world)) + probe.query
            # A fresh session per probe: logging out must not sign the next probe out.
            response = _run(_client(request, persona), probe.method, url, probe.body(world), probe.multipart)
            expected = probe.expected[column]
            problem = None
            if response.status_code != expected:
                problem = f"got {response.status_code}: {response.content[:160]!r}"
            elif expected == 302 and key != "logout" and _redirects_to_login(response) != (persona == "anonymous"):
                problem = f"redirected to {response['Location']}"
            if problem:
                mismatches.append(f"{probe.method.upper()} {url} {probe.label} expected {expected}, {problem}")
    assert not mismatches, "\n".join(mismatches)


def _admin_url(route: Route, world: World) -> str:
    values = {"object_id": str(world.pets.pk), "id": str(world.pets.pk), "content_type_id": "1", "path": "x"}
    if route.key == "admin:app_list":
        return reverse(route.key, kwargs={"app_label": "annotator"})
    if route.name:
        return reverse(route.name, kwargs={name: values[name] for name in route.converters})
    url = "/" + route.route.replace("<path:object_id>", values["object_id"])
    return url.replace("(?P<url>.*)$", "no-such-page/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_staff_get_past_the_admin_login_on_every_admin_url(request, world, persona):
    client = _client(request, persona)
    mismatches = []
    for route in routes():
        if not _is_admin(route) or route.key in ADMIN_PUBLIC:
            continue
        url = _admin_url(route, world)
        response = _run(client, "get", url)
        kept_out = _redirects_to_login(response, "/admin/login/")
        if kept_out == (persona == "staff") or response.status_code >= 500:
            mismatches.append(f"GET {url} ({route.key}): {response.status_code} {response.get('Location', '')}")
    assert not mismatches, "\n".join(mismatches)


# Ways to climb out of the folder a media rule is chosen by; {start} is that folder, {target} a file elsewhere.
TRAVERSALS = [
    "{start}/../{target}",  # unencoded (what curl --path-as-is sends)
    "{start}/%2e%2e/{target}",  # encoded: the server decodes it to ..
    "{start}/%2E%2E/{target}",
    "{start}/.%2e/{target}",
    "{start}/x/%2e%2e/%2e%2e/{target}",
    "{start}/..%2f{target}",
    "{start}/%2e%2e%2f{target}",
    "{start}/%252e%252e/{target}",  # double-encoded
    "{start}/%252e%252e%252f{target}",
    "{start}/%25252e%25252e/{target}",
    "{start}%5c..%5c{target}",  # backslashes
    "{start}/..%5c{target}",
    "{start}/%255c..%255c{target}",
    "/{target}",  # absolute
    "%2f{target}",
    "{start}/%00/../{target}",  # NUL
]


def _media_files(w: World, media_root) -> dict[str, str]:  # noqa: ANN001
    """One real file under each folder rule of MEDIA_ACCESS, and one under a folder no rule lists."""
    reference = media_root / "evaluation/pets/reference/real.json"
    reference.parent.mkdir(parents=True, exist_ok=True)
    reference.write_text("[]")
    elsewhere = media_root / "elsewhere/x.txt"
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    elsewhere.write_text("x")
    files = {
        "datasets": "datasets/pets/thumbnails/0000.jpg",
        "evaluation": w.prediction_set.source_file.name,
        "evaluation (reference labels)": "evaluation/pets/reference/real.json",
        "releases": w.releases[0].files.get(kind="real").storage_name,
        "elsewhere": "elsewhere/x.txt",
    }
    assert {name.split(" ")[0] for name in files} == {*MEDIA_ACCESS, "elsewhere"}
    return files


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_encoding_of_a_traversal_reaches_another_folders_files(request, world, settings, persona):
    """Every folder rule of MEDIA_ACCESS as the starting folder, every other folder's file as the target,
    every traversal above: no one gets the file (a 400, or the login page for anonymous users). It was the
    file: an annotator read predictions through /media/datasets/%2e%2e/evaluation/…)."""
    files = _media_files(world, settings.MEDIA_ROOT)
    client = _client(request, persona)
    leaks = []
    for start in [*MEDIA_ACCESS, "elsewhere"]:
        for label, target in files.items():
            for form in TRAVERSALS:
                url = "/media/" + form.format(start=start, target=target)
                response = client.get(url)
                # Anonymous users are sent to the login first, unless the middleware refuses a NUL outright.
                refused = response.status_code == 400 or (persona == "anonymous" and _redirects_to_login(response))
                if not refused:
                    leaks.append(f"{url} ({label}): {response.status_code}")
    assert not leaks, "\n".join(leaks)


def test_media_paths_that_only_look_odd_are_served_by_their_folders_rule(world, settings, annotator, reviewer):
    client = _client_for(annotator)
    for path in (
        "datasets/pets/thumbnails/./0000.jpg",
        "datasets//pets/thumbnails/0000.jpg",
        "./datasets/pets/thumbnails/0000.jpg",
    ):
        assert client.get(f"/media/{path}").status_code == 200, path
    odd = settings.MEDIA_ROOT / "datasets/pets/100%2e..jpg"
    odd.write_bytes(b"x")
    assert _client_for(reviewer).get("/media/datasets/pets/100%252e..jpg").status_code == 200
    assert client.get(f"/media/./{world.prediction_set.source_file.name}").status_code == 403


def _client_for(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_login(user)
    return client


def test_writes_need_a_csrf_token_in_a_session(world, staff):
    """Pages and the session-authenticated API refuse a cross-site POST/PUT, for a user allowed to write."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    writes = [(key, probe) for key, probes in EXPECTED.items() for probe in probes if probe.method in ("post", "put")]
    passed = []
    for key, probe in writes:
        url = reverse(key, kwargs=probe.kwargs(world)) + probe.query
        response = _run(client, probe.method, url, probe.body(world), probe.multipart)
        if response.status_code != 403 and key != "accounts:api-token":
            passed.append(f"{probe.method.upper()} {url}: {response.status_code}")
    assert not passed, "accepted without a CSRF token:\n" + "\n".join(passed)
