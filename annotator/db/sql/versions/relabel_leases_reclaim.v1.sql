-- A dataset's expired leases: lock their images (skipping those another transaction holds: they are
-- reclaimed on a later call), delete the leases and give the slots back. Returns the images updated.
CREATE OR REPLACE FUNCTION relabel_leases_reclaim(p_dataset bigint, p_now timestamptz) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_images int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.dataset_id = p_dataset AND l.expires_at <= p_now) THEN
        RETURN 0;  -- the usual case, one probe of lease_dataset_expiry_idx
    END IF;
    WITH locked AS (
        SELECT i.id FROM annotator_image i
        WHERE i.id IN (SELECT l.image_id FROM annotator_lease l WHERE l.dataset_id = p_dataset AND l.expires_at <= p_now)
        FOR UPDATE OF i SKIP LOCKED
    ), gone AS (
        DELETE FROM annotator_lease l USING locked
        WHERE l.image_id = locked.id AND l.expires_at <= p_now
        RETURNING l.image_id
    )
    UPDATE annotator_image i SET lease_count = i.lease_count - g.n
    FROM (SELECT gone.image_id, count(*) AS n FROM gone GROUP BY gone.image_id) g
    WHERE i.id = g.image_id;
    GET DIAGNOSTICS v_images = ROW_COUNT;
    RETURN v_images;
END
$$;
