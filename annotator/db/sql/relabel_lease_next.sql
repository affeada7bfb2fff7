-- Reclaim the dataset's expired leases, renew a live lease the user holds (not in p_exclude), or lease the
-- next open image. One row: ('lease', …) with the lease and its image; ('too_many', held) when the user
-- holds p_max_held leases already; no row when nothing is left for the user.
CREATE OR REPLACE FUNCTION relabel_lease_next(
    p_dataset bigint, p_user bigint, p_exclude bigint[], p_now timestamptz, p_expires timestamptz, p_max_held int
) RETURNS TABLE (
    r_outcome text, r_held int, r_lease bigint, r_created timestamptz, r_expires timestamptz, r_shown bigint[],
    r_image bigint, r_key varchar, r_original varchar, r_display varchar, r_width int, r_height int,
    r_original_label bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_held int := 0;
    v_lease bigint;
    v_row record;
    v_image bigint;
    v_original bigint;
    v_guided boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM annotator_lease l WHERE l.dataset_id = p_dataset AND l.expires_at <= p_now) THEN
        PERFORM relabel_leases_reclaim(p_dataset, p_now);
    END IF;

    FOR v_row IN
        SELECT l.id, l.image_id FROM annotator_lease l
        WHERE l.annotator_id = p_user AND l.dataset_id = p_dataset AND l.expires_at > p_now
        ORDER BY l.created_at, l.id
    LOOP
        v_held := v_held + 1;
        IF v_lease IS NULL AND NOT (v_row.image_id = ANY (p_exclude)) THEN
            v_lease := v_row.id;
        END IF;
    END LOOP;

    IF v_lease IS NOT NULL THEN
        UPDATE annotator_lease SET expires_at = p_expires WHERE id = v_lease;
    ELSIF v_held >= p_max_held THEN
        RETURN QUERY SELECT 'too_many'::text, v_held, NULL::bigint, NULL::timestamptz, NULL::timestamptz,
            NULL::bigint[], NULL::bigint, NULL::varchar, NULL::varchar, NULL::varchar, NULL::int, NULL::int,
            NULL::bigint;
        RETURN;
    ELSE
        -- While the dataset has an active pilot, its open images come first (pilot_rank set), in hand-out order
        -- with the pilot's seeded random rank in place of the position, so the pilot settles early and the part
        -- settled so far is a random part of it: the first 64 open pilot images (the pilot's head), then, for a
        -- user who has done all of those, the first fresh pilot image. Both read partial indexes in order.
        SELECT i.id INTO v_image
        FROM (
            SELECT h.id, h.more_requested_at, h.annotations_needed - h.annotation_count - h.lease_count AS missing,
                   h.pilot_rank
            FROM annotator_image h
            WHERE h.dataset_id = p_dataset AND h.pilot_rank IS NOT NULL
              AND h.annotations_needed > h.annotation_count + h.lease_count
            ORDER BY h.more_requested_at ASC NULLS LAST, h.annotations_needed - h.annotation_count - h.lease_count,
                     h.pilot_rank
            LIMIT 64
        ) head
        JOIN annotator_image i ON i.id = head.id
        WHERE i.annotations_needed > i.annotation_count + i.lease_count  -- rechecked on the locked row
          AND NOT EXISTS (SELECT 1 FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = p_user)
          AND NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.image_id = i.id AND l.annotator_id = p_user)
          AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
        ORDER BY head.more_requested_at ASC NULLS LAST, head.missing, head.pilot_rank
        LIMIT 1
        FOR UPDATE OF i SKIP LOCKED;

        IF v_image IS NULL THEN
            SELECT i.id INTO v_image FROM annotator_image i
            WHERE i.dataset_id = p_dataset AND i.pilot_rank IS NOT NULL
              AND i.annotation_count = 0 AND i.lease_count = 0 AND i.more_requested_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
            ORDER BY i.pilot_rank
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;
        END IF;

        -- Model-guided order (the dataset's queue_order): the head holds only the open images someone has begun
        -- (or a reviewer asked for), in the same order; when the user has done all of those, the first fresh
        -- image by model score, highest first, then by position (images without a score last). Both read
        -- partial indexes in order (image_begun_queue_idx, image_guided_fresh_queue_idx).
        IF v_image IS NULL THEN
            SELECT d.queue_order = 'model_guided' INTO v_guided FROM annotator_dataset d WHERE d.id = p_dataset;
        END IF;
        IF v_image IS NULL AND v_guided THEN
            SELECT i.id INTO v_image
            FROM (
                SELECT h.id, h.more_requested_at,
                       h.annotations_needed - h.annotation_count - h.lease_count AS missing, h.position
                FROM annotator_image h
                WHERE h.dataset_id = p_dataset AND h.annotations_needed > h.annotation_count + h.lease_count
                  AND (h.annotation_count > 0 OR h.lease_count > 0 OR h.more_requested_at IS NOT NULL)
                ORDER BY h.more_requested_at ASC NULLS LAST,
                         h.annotations_needed - h.annotation_count - h.lease_count, h.position
                LIMIT 64
            ) head
            JOIN annotator_image i ON i.id = head.id
            WHERE i.annotations_needed > i.annotation_count + i.lease_count  -- rechecked on the locked row
              AND NOT EXISTS (SELECT 1 FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = p_user)
              AND NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.image_id = i.id AND l.annotator_id = p_user)
              AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
            ORDER BY head.more_requested_at ASC NULLS LAST, head.missing, head.position
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;

            IF v_image IS NULL THEN
                SELECT i.id INTO v_image FROM annotator_image i
                WHERE i.dataset_id = p_dataset AND i.annotation_count = 0 AND i.lease_count = 0
                  AND i.more_requested_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
                ORDER BY i.model_score DESC NULLS LAST, i.position
                LIMIT 1
                FOR UPDATE OF i SKIP LOCKED;
            END IF;
        END IF;

        -- The first image, in hand-out order, that the user has never annotated, held or skipped, looking at
        -- the first 64 open images of the queue (the head, shared by everyone at work); when the user has done
        -- all of those, the first fresh image by position; only when none is left, the whole queue. So the
        -- pick costs the same however many open images the user already annotated.
        IF v_image IS NULL AND NOT v_guided THEN  -- position order (not indented, to keep the diff small)
        SELECT i.id INTO v_image
        FROM (
            SELECT h.id, h.more_requested_at, h.annotations_needed - h.annotation_count - h.lease_count AS missing,
                   h.position
            FROM annotator_image h
            WHERE h.dataset_id = p_dataset AND h.annotations_needed > h.annotation_count + h.lease_count
            ORDER BY h.more_requested_at ASC NULLS LAST, h.annotations_needed - h.annotation_count - h.lease_count,
                     h.position
            LIMIT 64
        ) head
        JOIN annotator_image i ON i.id = head.id
        WHERE i.annotations_needed > i.annotation_count + i.lease_count  -- rechecked on the locked row
          AND NOT EXISTS (SELECT 1 FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = p_user)
          AND NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.image_id = i.id AND l.annotator_id = p_user)
          AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
        ORDER BY head.more_requested_at ASC NULLS LAST, head.missing, head.position
        LIMIT 1
        FOR UPDATE OF i SKIP LOCKED;
        END IF;

        IF v_image IS NULL AND NOT v_guided THEN  -- nobody has annotated or holds a fresh image: only a skip
            SELECT i.id INTO v_image FROM annotator_image i
            WHERE i.dataset_id = p_dataset AND i.annotation_count = 0 AND i.lease_count = 0
              AND i.more_requested_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
            ORDER BY i.position
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;
        END IF;

        IF v_image IS NULL THEN
            SELECT i.id INTO v_image FROM annotator_image i
            WHERE i.dataset_id = p_dataset
              AND i.annotations_needed > i.annotation_count + i.lease_count
              AND NOT EXISTS (SELECT 1 FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = p_user)
              AND NOT EXISTS (SELECT 1 FROM annotator_lease l WHERE l.image_id = i.id AND l.annotator_id = p_user)
              AND NOT EXISTS (SELECT 1 FROM annotator_skip s WHERE s.image_id = i.id AND s.annotator_id = p_user)
            ORDER BY i.more_requested_at ASC NULLS LAST,
                     (i.annotations_needed - i.annotation_count - i.lease_count),
                     i.position
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED;
        END IF;

        IF v_image IS NULL THEN
            RETURN;
        END IF;
        UPDATE annotator_image SET lease_count = lease_count + 1 WHERE id = v_image
        RETURNING original_label_id INTO v_original;
        INSERT INTO annotator_lease (image_id, annotator_id, dataset_id, shown, created_at, expires_at)
        VALUES (v_image, p_user, p_dataset, relabel_shown(v_image, p_user, v_original), p_now, p_expires)
        RETURNING id INTO v_lease;
    END IF;

    RETURN QUERY
    SELECT 'lease'::text, v_held, l.id, l.created_at, l.expires_at, l.shown, i.id, i.key, i.original, i.display,
           i.width::int, i.height::int, i.original_label_id
    FROM annotator_lease l JOIN annotator_image i ON i.id = l.image_id
    WHERE l.id = v_lease;
END
$$;
