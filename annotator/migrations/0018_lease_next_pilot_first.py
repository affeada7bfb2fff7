"""While a dataset has an active pilot, the hand-out gives the pilot's open images first (issue 22).
Definitions: annotator/db/sql/versions/ (see annotator/db/functions.py)."""

from django.db import migrations

from annotator.db.functions import versioned_sql


class Migration(migrations.Migration):
    dependencies = [("annotator", "0017_pilot")]

    operations = [
        migrations.RunSQL(
            versioned_sql(relabel_lease_next=2), reverse_sql=versioned_sql(relabel_lease_next=1)
        ),
    ]
