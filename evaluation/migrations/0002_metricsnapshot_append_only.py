"""Metric snapshots are history: the database itself refuses to change one after it is written."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION evaluation_metricsnapshot_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'metric snapshots are append-only: append a new one instead of updating %', OLD.id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER evaluation_metricsnapshot_append_only
    BEFORE UPDATE ON evaluation_metricsnapshot
    FOR EACH ROW EXECUTE FUNCTION evaluation_metricsnapshot_refuse_update();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS evaluation_metricsnapshot_append_only ON evaluation_metricsnapshot;
DROP FUNCTION IF EXISTS evaluation_metricsnapshot_refuse_update();
"""


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
