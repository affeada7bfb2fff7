"""Live counts of each dataset (images, consensus rows per status) kept by statement-level triggers, so the
dashboard reads one row instead of counting the dataset (issue 23). Definitions: annotator/db/sql/relabel_counts_*."""

import django.db.models.deletion
from django.db import migrations, models

from annotator.db.functions import versioned_sql

TRIGGERS = """
CREATE TRIGGER relabel_counts_datasets AFTER INSERT ON annotator_dataset
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_datasets();
CREATE TRIGGER relabel_counts_images_insert AFTER INSERT ON annotator_image
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_images();
CREATE TRIGGER relabel_counts_images_delete AFTER DELETE ON annotator_image
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_images();
CREATE TRIGGER relabel_counts_consensus_insert AFTER INSERT ON annotator_consensus
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_consensus();
CREATE TRIGGER relabel_counts_consensus_update AFTER UPDATE ON annotator_consensus
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_consensus();
CREATE TRIGGER relabel_counts_consensus_delete AFTER DELETE ON annotator_consensus
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION relabel_counts_consensus();
-- The bulk imports skip per-row foreign-key triggers with session_replication_role = replica: these still fire.
ALTER TABLE annotator_dataset ENABLE ALWAYS TRIGGER relabel_counts_datasets;
ALTER TABLE annotator_image ENABLE ALWAYS TRIGGER relabel_counts_images_insert;
ALTER TABLE annotator_image ENABLE ALWAYS TRIGGER relabel_counts_images_delete;
ALTER TABLE annotator_consensus ENABLE ALWAYS TRIGGER relabel_counts_consensus_insert;
ALTER TABLE annotator_consensus ENABLE ALWAYS TRIGGER relabel_counts_consensus_update;
ALTER TABLE annotator_consensus ENABLE ALWAYS TRIGGER relabel_counts_consensus_delete;
"""

# The counts of the datasets already there (taking their tables' locks first, so no write slips in between).
FILL = """
LOCK TABLE annotator_dataset, annotator_image, annotator_consensus IN SHARE MODE;
INSERT INTO annotator_datasetcounts (dataset_id, images, pending, agreed, disputed, adjudicated)
SELECT d.id,
       (SELECT count(*) FROM annotator_image i WHERE i.dataset_id = d.id),
       count(c.image_id) FILTER (WHERE c.status = 'pending'),
       count(c.image_id) FILTER (WHERE c.status = 'agreed'),
       count(c.image_id) FILTER (WHERE c.status = 'disputed'),
       count(c.image_id) FILTER (WHERE c.status = 'adjudicated')
FROM annotator_dataset d LEFT JOIN annotator_consensus c ON c.dataset_id = d.id
GROUP BY d.id;
"""

DROP = """
DROP TRIGGER relabel_counts_datasets ON annotator_dataset;
DROP TRIGGER relabel_counts_images_insert ON annotator_image;
DROP TRIGGER relabel_counts_images_delete ON annotator_image;
DROP TRIGGER relabel_counts_consensus_insert ON annotator_consensus;
DROP TRIGGER relabel_counts_consensus_update ON annotator_consensus;
DROP TRIGGER relabel_counts_consensus_delete ON annotator_consensus;
DROP FUNCTION relabel_counts_datasets();
DROP FUNCTION relabel_counts_images();
DROP FUNCTION relabel_counts_consensus();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0020_consensus_review_queue"),
    ]

    operations = [
        migrations.CreateModel(
            name="DatasetCounts",
            fields=[
                (
                    "dataset",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="live_counts",
                        serialize=False,
                        to="annotator.dataset",
                    ),
                ),
                ("images", models.BigIntegerField(default=0)),
                ("pending", models.BigIntegerField(default=0)),
                ("agreed", models.BigIntegerField(default=0)),
                ("disputed", models.BigIntegerField(default=0)),
                ("adjudicated", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name_plural": "dataset counts",
            },
        ),
        migrations.RunSQL(
            versioned_sql(relabel_counts_datasets=1, relabel_counts_images=1, relabel_counts_consensus=1)
            + TRIGGERS
            + FILL,
            reverse_sql=DROP,
        ),
    ]
