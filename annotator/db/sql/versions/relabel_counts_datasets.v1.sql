-- Statement-level trigger of annotator_dataset (INSERT; transition table `added`): every new dataset gets its
-- row of annotator_datasetcounts, all zero, which the other counting triggers only ever update (so rows that a
-- dataset's deletion removes first are never made again by the cascade's later deletes).
CREATE OR REPLACE FUNCTION relabel_counts_datasets() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO annotator_datasetcounts (dataset_id, images, pending, agreed, disputed, adjudicated)
    SELECT id, 0, 0, 0, 0, 0 FROM added;
    RETURN NULL;
END
$$;
