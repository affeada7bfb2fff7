-- Statement-level trigger of annotator_image (INSERT, DELETE; transition tables `added`, `removed`): adds the
-- statement's net change of images per dataset to annotator_datasetcounts. Fires under
-- session_replication_role = replica too (ENABLE ALWAYS), which the bulk imports use to skip per-row checks.
CREATE OR REPLACE FUNCTION relabel_counts_images() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE annotator_datasetcounts AS t SET images = t.images + d.n
        FROM (SELECT dataset_id, count(*) AS n FROM added GROUP BY dataset_id) AS d WHERE t.dataset_id = d.dataset_id;
    ELSE
        UPDATE annotator_datasetcounts AS t SET images = t.images - d.n
        FROM (SELECT dataset_id, count(*) AS n FROM removed GROUP BY dataset_id) AS d WHERE t.dataset_id = d.dataset_id;
    END IF;
    RETURN NULL;
END
$$;
