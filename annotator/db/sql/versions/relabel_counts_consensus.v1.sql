-- Statement-level trigger of annotator_consensus (INSERT, UPDATE, DELETE; transition tables `added` and
-- `removed`): adds the statement's net change of consensus rows per status to annotator_datasetcounts. A
-- dataset whose counts did not change (a submit that moves no status) is not touched, so its row is not locked.
CREATE OR REPLACE FUNCTION relabel_counts_consensus() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_dataset bigint[] := '{}';
    v_status text[] := '{}';
    v_sign int[] := '{}';
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT v_dataset || coalesce(array_agg(dataset_id), '{}'), v_status || coalesce(array_agg(status::text), '{}'),
               v_sign || coalesce(array_agg(1), '{}')
        INTO v_dataset, v_status, v_sign FROM added;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT v_dataset || coalesce(array_agg(dataset_id), '{}'), v_status || coalesce(array_agg(status::text), '{}'),
               v_sign || coalesce(array_agg(-1), '{}')
        INTO v_dataset, v_status, v_sign FROM removed;
    END IF;
    UPDATE annotator_datasetcounts AS t
    SET pending = t.pending + d.pending, agreed = t.agreed + d.agreed, disputed = t.disputed + d.disputed,
        adjudicated = t.adjudicated + d.adjudicated
    FROM (
        SELECT c.dataset_id,
               coalesce(sum(c.sign) FILTER (WHERE c.status = 'pending'), 0) AS pending,
               coalesce(sum(c.sign) FILTER (WHERE c.status = 'agreed'), 0) AS agreed,
               coalesce(sum(c.sign) FILTER (WHERE c.status = 'disputed'), 0) AS disputed,
               coalesce(sum(c.sign) FILTER (WHERE c.status = 'adjudicated'), 0) AS adjudicated
        FROM unnest(v_dataset, v_status, v_sign) AS c(dataset_id, status, sign)
        GROUP BY c.dataset_id
    ) AS d
    WHERE t.dataset_id = d.dataset_id AND (d.pending, d.agreed, d.disputed, d.adjudicated) <> (0, 0, 0, 0);
    RETURN NULL;
END
$$;
