"""The benchmark's settle step: VACUUM (ANALYZE) and CHECKPOINT outside a transaction, for any role."""

from __future__ import annotations

import pytest
from django.db import connection

from bench.workload import database_settle


@pytest.mark.django_db(transaction=True)
def test_settle_vacuums_and_checkpoints():
    with connection.cursor() as cursor:
        cursor.execute("SELECT checkpoint_lsn FROM pg_control_checkpoint()")
        (before,) = cursor.fetchone()
    database_settle()
    with connection.cursor() as cursor:
        cursor.execute("SELECT checkpoint_lsn FROM pg_control_checkpoint()")
        (after,) = cursor.fetchone()
        cursor.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'annotator_image'")
        (analysed,) = cursor.fetchone()
    assert after != before and analysed  # an explicit CHECKPOINT always writes a new checkpoint record


@pytest.mark.django_db(transaction=True)
def test_settle_without_the_right_to_checkpoint_skips_it(capsys):
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS relabel_bench_limited")
        cursor.execute("CREATE ROLE relabel_bench_limited")
        cursor.execute("SET ROLE relabel_bench_limited")
    try:
        database_settle()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("DROP ROLE relabel_bench_limited")
    assert "CHECKPOINT not allowed" in capsys.readouterr().out


@pytest.mark.django_db
def test_settle_inside_a_transaction_does_nothing():
    database_settle()  # VACUUM would raise "cannot run inside a transaction block"
