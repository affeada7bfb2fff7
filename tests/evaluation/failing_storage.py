"""A test-only storage backend whose Nth save raises, to make a release build fail halfway for real."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage


class DiskFullError(OSError):
    pass


class FailingStorage(FileSystemStorage):
    def __init__(self, *, fail_on_save: int, **options: object) -> None:
        super().__init__(**options)
        self.fail_on_save = fail_on_save
        self.saves = 0

    def _save(self, name: str, content) -> str:  # noqa: ANN001
        self.saves += 1
        if self.saves == self.fail_on_save:
            raise DiskFullError(f"no space left on device while writing {name}")
        return super()._save(name, content)
