"""Submit and revise share one function, `relabel_annotation_write`, and so one implementation of each rule
(replay, membership, lease, vocabulary); the revise path no longer re-checks them in Python. The consensus inputs'
columns are declared once, as the row type `relabel_consensus_row`, which `relabel_consensus_inputs` and the write
both return. Definitions: annotator/db/sql/versions/ (see annotator/db/functions.py).
"""

from django.db import migrations

from annotator.db.functions import versioned_sql

DROP_SUBMIT_AND_INPUTS = """
DROP FUNCTION relabel_annotation_submit(bigint, bigint, uuid, bigint[], boolean, boolean, boolean, double precision,
                                        timestamptz);
DROP FUNCTION relabel_consensus_inputs(bigint);
"""

DROP_WRITE_AND_INPUTS = """
DROP FUNCTION relabel_annotation_write(bigint, bigint, bigint, uuid, bigint[], boolean, boolean, boolean,
                                       double precision, timestamptz);
DROP FUNCTION relabel_consensus_inputs(bigint);
DROP TYPE relabel_consensus_row;
"""


class Migration(migrations.Migration):
    dependencies = [("annotator", "0014_dataset_ds_requested_at")]

    operations = [
        migrations.RunSQL(
            DROP_SUBMIT_AND_INPUTS
            + versioned_sql(relabel_consensus_row=1, relabel_consensus_inputs=2, relabel_annotation_write=1),
            reverse_sql=DROP_WRITE_AND_INPUTS + versioned_sql(relabel_consensus_inputs=1, relabel_annotation_submit=1),
        ),
    ]
