"""The annotation hot paths as PostgreSQL functions, one round trip each.

"Next image" and "submit" ran 8 and 11 statements, each a round trip with its own planning. As functions
they are one call each; PL/pgSQL keeps the plans of their statements for the life of the connection
(persistent with CONN_MAX_AGE). The lock order stays the services' own: image rows first, then leases.
`annotator.services.assignment` and `annotator.services.annotations` call them and document the rules.
The definitions are the frozen files annotator/db/sql/versions/*.v1.sql (they were strings here, byte for byte).
"""

from django.db import migrations, models

from annotator.db.functions import versioned_sql

DROP = """
DROP FUNCTION IF EXISTS relabel_annotation_submit(bigint, bigint, uuid, bigint[], boolean, boolean, boolean,
                                                  double precision, timestamptz);
DROP FUNCTION IF EXISTS relabel_consensus_inputs(bigint);
DROP FUNCTION IF EXISTS relabel_votes_write(bigint, bigint, bigint, bigint[], bigint[], boolean, boolean, boolean);
DROP FUNCTION IF EXISTS relabel_lease_next(bigint, bigint, bigint[], timestamptz, timestamptz, int);
DROP FUNCTION IF EXISTS relabel_leases_reclaim(bigint, timestamptz);
DROP FUNCTION IF EXISTS relabel_shown(bigint, bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("annotator", "0009_adjudication_client_uuid")]

    operations = [
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                models.F("dataset"),
                models.F("position"),
                condition=models.Q(annotation_count=0, lease_count=0, more_requested_at__isnull=True),
                name="image_fresh_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("thumbnail", ""), _negated=True),
                fields=["dataset", "original_label", "position"],
                name="image_reference_idx",
            ),
        ),
        migrations.RunSQL(
            versioned_sql(
                relabel_shown=1,
                relabel_leases_reclaim=1,
                relabel_lease_next=1,
                relabel_votes_write=1,
                relabel_consensus_inputs=1,
                relabel_annotation_submit=1,
            ),
            reverse_sql=DROP,
        ),
    ]
