"""Metric snapshots are history: the database itself refuses to change one after it is written."""

from django.db import migrations

from config.frozen.append_only_v1 import append_only


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial")]

    operations = [
        append_only(
            "evaluation_metricsnapshot", "metric snapshots are append-only: append a new one instead of updating %"
        )
    ]
