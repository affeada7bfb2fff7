"""The one rule of every role × endpoint matrix: allowed personas get through, the rest are refused."""

from __future__ import annotations


def assert_reached_as_allowed(response, persona: str, allowed: set[str], is_api: bool) -> None:  # noqa: ANN001
    """Allowed: 2xx or a redirect that is not to the login page. Anonymous on a page: redirect to login.
    Everyone else: 403."""
    if persona in allowed:
        assert response.status_code in (200, 201, 202, 302), response.content[:300]
        if response.status_code == 302:
            assert "/accounts/login/" not in response["Location"]
    elif persona == "anonymous" and not is_api:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403
