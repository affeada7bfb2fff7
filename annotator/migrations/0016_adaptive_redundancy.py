"""Adaptive redundancy (issue 21): the dataset's setting, the consensus's settled and open questions, and the SQL
that reads and uses them: the consensus inputs carry the setting and whether a vote's class is a candidate, and the
hand-out leaves settled classes out of what it shows. The row type changes, so it is dropped with the functions that
use it (CASCADE: relabel_consensus_inputs, relabel_annotation_write) and all are loaded again.
Definitions: annotator/db/sql/versions/ (see annotator/db/functions.py).
"""

import django.contrib.postgres.fields
from django.db import migrations, models

from annotator.db.functions import versioned_sql

DROP_ROW = "DROP TYPE relabel_consensus_row CASCADE;\n"


class Migration(migrations.Migration):
    dependencies = [("annotator", "0015_annotation_write_function")]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="redundancy",
            field=models.CharField(
                choices=[
                    ("fixed", "Fixed: N annotations per image"),
                    ("adaptive", "Adaptive: until every question is settled"),
                ],
                default="fixed",
                help_text="Fixed: every image gets N annotations. Adaptive: an image stops once every question on it "
                "is confidently decided (at least the minimum, at most the maximum), and a later annotation is asked "
                "only the still-undecided candidates.",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="dataset",
            name="redundancy_min",
            field=models.PositiveSmallIntegerField(default=2, help_text="Adaptive: annotations every image gets."),
        ),
        migrations.AddField(
            model_name="dataset",
            name="redundancy_max",
            field=models.PositiveSmallIntegerField(default=5, help_text="Adaptive: annotations no image exceeds."),
        ),
        migrations.AddField(
            model_name="dataset",
            name="redundancy_confidence",
            field=models.FloatField(
                default=0.95,
                help_text="Adaptive: a question is settled when its Dawid–Skene posterior lies outside [1 − c, c] "
                "(before any run: when its yes and no answers differ by 2).",
            ),
        ),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.CheckConstraint(
                condition=models.Q(("redundancy_min__gte", 1), ("redundancy_max__gte", models.F("redundancy_min"))),
                name="dataset_redundancy_min_max",
            ),
        ),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.CheckConstraint(
                condition=models.Q(("redundancy_confidence__gt", 0.5), ("redundancy_confidence__lt", 1)),
                name="dataset_redundancy_confidence_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.CheckConstraint(
                condition=models.Q(("redundancy__in", ["fixed", "adaptive"])), name="dataset_redundancy_kind"
            ),
        ),
        migrations.AddField(
            model_name="consensus",
            name="settled_classes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(),
                blank=True,
                default=list,
                help_text="Questions decided: not asked again.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="consensus",
            name="open_classes",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(), blank=True, default=list, help_text="Questions undecided.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="consensus",
            name="redundancy_state",
            field=models.CharField(
                blank=True, default="", help_text="Adaptive: open, settled or exhausted (at the maximum).",
                max_length=10,
            ),
        ),
        migrations.RunSQL(
            DROP_ROW
            + versioned_sql(
                relabel_consensus_row=2, relabel_consensus_inputs=3, relabel_annotation_write=1, relabel_shown=2
            ),
            reverse_sql=DROP_ROW
            + versioned_sql(
                relabel_consensus_row=1, relabel_consensus_inputs=2, relabel_annotation_write=1, relabel_shown=1
            ),
        ),
    ]
