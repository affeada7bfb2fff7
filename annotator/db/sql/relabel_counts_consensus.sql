-- Statement-level trigger of annotator_consensus (INSERT, UPDATE, DELETE; transition tables `added` and
-- `removed`): adds the statement's net change of consensus rows per status to annotator_datasetcounts. A
-- dataset whose counts did not change (a submit that moves no status) is not touched, so its row is not locked.
-- One static statement per operation (planned once per connection; a transition table that the operation
-- lacks cannot even be named).
CREATE OR REPLACE FUNCTION relabel_counts_consensus() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE annotator_datasetcounts AS t
        SET pending = t.pending + d.pending, agreed = t.agreed + d.agreed, disputed = t.disputed + d.disputed,
            adjudicated = t.adjudicated + d.adjudicated
        FROM (SELECT dataset_id, count(*) FILTER (WHERE status = 'pending') AS pending,
                     count(*) FILTER (WHERE status = 'agreed') AS agreed,
                     count(*) FILTER (WHERE status = 'disputed') AS disputed,
                     count(*) FILTER (WHERE status = 'adjudicated') AS adjudicated
              FROM added GROUP BY dataset_id) AS d
        WHERE t.dataset_id = d.dataset_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE annotator_datasetcounts AS t
        SET pending = t.pending - d.pending, agreed = t.agreed - d.agreed, disputed = t.disputed - d.disputed,
            adjudicated = t.adjudicated - d.adjudicated
        FROM (SELECT dataset_id, count(*) FILTER (WHERE status = 'pending') AS pending,
                     count(*) FILTER (WHERE status = 'agreed') AS agreed,
                     count(*) FILTER (WHERE status = 'disputed') AS disputed,
                     count(*) FILTER (WHERE status = 'adjudicated') AS adjudicated
              FROM removed GROUP BY dataset_id) AS d
        WHERE t.dataset_id = d.dataset_id;
    ELSE
        UPDATE annotator_datasetcounts AS t
        SET pending = t.pending + d.pending, agreed = t.agreed + d.agreed, disputed = t.disputed + d.disputed,
            adjudicated = t.adjudicated + d.adjudicated
        FROM (SELECT dataset_id, coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) AS pending,
                     coalesce(sum(sign) FILTER (WHERE status = 'agreed'), 0) AS agreed,
                     coalesce(sum(sign) FILTER (WHERE status = 'disputed'), 0) AS disputed,
                     coalesce(sum(sign) FILTER (WHERE status = 'adjudicated'), 0) AS adjudicated
              FROM (SELECT dataset_id, status, 1 AS sign FROM added
                    UNION ALL SELECT dataset_id, status, -1 FROM removed) AS c
              GROUP BY dataset_id) AS d
        WHERE t.dataset_id = d.dataset_id AND (d.pending, d.agreed, d.disputed, d.adjudicated) <> (0, 0, 0, 0);
    END IF;
    RETURN NULL;
END
$$;
