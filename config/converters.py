"""URL path converters."""

from __future__ import annotations

from config.request_input import MAX_SQL_INT


class IdConverter:
    """A database id in a path (`<id:pk>`): digits up to PostgreSQL's bigint. A longer number is no match, so
    the URL is a 404 before any view or raw SQL sees a value the database cannot hold."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_SQL_INT:
            raise ValueError(f"{value} is beyond any id")
        return number

    def to_url(self, value: int | str) -> str:
        return str(value)
