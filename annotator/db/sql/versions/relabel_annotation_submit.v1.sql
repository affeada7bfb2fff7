-- A first answer for a leased image. Locks the image row, then checks in this order: an earlier submit
-- with this client_uuid ('replay', its annotation; 'uuid_reused' if it was for another image), membership
-- ('not_member'), the lease ('already_annotated' with the annotation, or 'not_leased'), the classes
-- ('unknown_classes' with the unknown ids). Otherwise writes the annotation, its first revision and its
-- votes, turns the lease's slot into a completed one and returns 'stored' with the image's consensus
-- inputs after the write (relabel_consensus_inputs: one row per vote), so the caller recounts the live
-- consensus without another round trip. Nothing is written unless the outcome is 'stored'.
CREATE OR REPLACE FUNCTION relabel_annotation_submit(
    p_image bigint, p_user bigint, p_client_uuid uuid, p_classes bigint[], p_none_fits boolean, p_unsure boolean,
    p_bad_image boolean, p_seconds double precision, p_now timestamptz
) RETURNS TABLE (
    r_outcome text, r_annotation bigint, r_dataset bigint, r_key varchar, r_shown bigint[], r_unknown bigint[],
    c_needed int, c_original_label bigint, c_dataset bigint, c_threshold double precision,
    c_dispute_band double precision, c_min_answers int, c_aggregation text, c_ds_threshold double precision,
    c_ds_prior text, c_ds_run bigint, c_ds_run_created timestamptz, c_annotator bigint, c_none_fits boolean,
    c_unsure boolean, c_bad_image boolean, c_chose boolean, c_seconds double precision, c_class bigint,
    c_class_index int, c_answer text
) LANGUAGE plpgsql AS $$
DECLARE
    v_image record;
    v_replay record;
    v_outcome text;
    v_annotation bigint;
    v_unknown bigint[];
BEGIN
    SELECT i.dataset_id, i.key,
           EXISTS (SELECT 1 FROM annotator_dataset_annotators m
                   WHERE m.dataset_id = i.dataset_id AND m.user_id = p_user) AS member,
           l.id AS lease_id, l.shown,
           (SELECT a.id FROM annotator_annotation a WHERE a.image_id = i.id AND a.annotator_id = p_user) AS existing
    INTO v_image
    FROM annotator_image i
    LEFT JOIN annotator_lease l ON l.image_id = i.id AND l.annotator_id = p_user
    WHERE i.id = p_image
    FOR UPDATE OF i;

    -- After the lock, so a concurrent retry that committed while we waited is seen.
    SELECT r.annotation_id, a.image_id INTO v_replay
    FROM annotator_annotationrevision r JOIN annotator_annotation a ON a.id = r.annotation_id
    WHERE r.annotator_id = p_user AND r.client_uuid = p_client_uuid;
    IF FOUND THEN
        v_outcome := CASE WHEN v_replay.image_id = p_image THEN 'replay' ELSE 'uuid_reused' END;
        v_annotation := v_replay.annotation_id;
    ELSIF v_image.dataset_id IS NULL OR NOT v_image.member THEN
        v_outcome := 'not_member';
    ELSIF v_image.lease_id IS NULL THEN
        v_outcome := CASE WHEN v_image.existing IS NULL THEN 'not_leased' ELSE 'already_annotated' END;
        v_annotation := v_image.existing;
    ELSE
        -- One primary-key probe per chosen class (a join would hash the whole vocabulary).
        SELECT array_agg(u.id ORDER BY u.n) INTO v_unknown
        FROM unnest(p_classes) WITH ORDINALITY AS u(id, n)
        WHERE (SELECT c.dataset_id FROM annotator_labelclass c WHERE c.id = u.id) IS DISTINCT FROM v_image.dataset_id;
        IF v_unknown IS NOT NULL THEN
            v_outcome := 'unknown_classes';
        ELSE
            INSERT INTO annotator_annotation (image_id, annotator_id, dataset_id, classes, shown, none_fits, unsure,
                                              bad_image, seconds, client_uuid, revision_count, created_at,
                                              updated_at)
            VALUES (p_image, p_user, v_image.dataset_id, p_classes, v_image.shown, p_none_fits, p_unsure,
                    p_bad_image, p_seconds, p_client_uuid, 1, p_now, p_now)
            RETURNING id INTO v_annotation;
            INSERT INTO annotator_annotationrevision (annotation_id, annotator_id, number, classes, none_fits, unsure,
                                                      bad_image, seconds, client_uuid, created_at)
            VALUES (v_annotation, p_user, 1, p_classes, p_none_fits, p_unsure, p_bad_image, p_seconds,
                    p_client_uuid, p_now);
            PERFORM relabel_votes_write(v_annotation, p_image, p_user, v_image.shown, p_classes, p_unsure,
                                        p_bad_image, false);
            -- The lease becomes the annotation: its slot turns from a held one into a completed one.
            DELETE FROM annotator_lease WHERE id = v_image.lease_id;
            UPDATE annotator_image SET annotation_count = annotation_count + 1, lease_count = lease_count - 1
            WHERE id = p_image;
            v_outcome := 'stored';
        END IF;
    END IF;

    RETURN QUERY
    SELECT v_outcome, v_annotation, v_image.dataset_id::bigint, v_image.key::varchar, v_image.shown, v_unknown,
           ci.*
    FROM (SELECT 1) AS one
    LEFT JOIN relabel_consensus_inputs(p_image) ci ON v_outcome = 'stored';
END
$$;
