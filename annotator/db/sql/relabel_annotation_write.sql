-- An annotator's answer for an image: the first one (p_annotation NULL: the lease on p_image becomes the
-- annotation) or a revision of their annotation p_annotation (p_image NULL: the annotation's). One set of
-- rules for both, checked in this order:
--   a revision's annotation must be the user's ('not_yours');
--   then, with the image row locked, so a concurrent retry that committed while we waited is seen:
--   an earlier answer with this client_uuid ('replay', its annotation; 'uuid_reused' if it was for another
--   image); membership of the image's dataset ('not_member'); a first answer needs the user's lease
--   ('already_annotated' with the annotation, or 'not_leased'); every chosen class in the dataset's
--   vocabulary ('unknown_classes' with the unknown ids, in the order given).
-- Then writes the annotation (a revision adds its seconds to the earlier ones), its revision and its votes
-- (relabel_votes_write, replacing a revision's earlier ones); a first answer turns the lease's slot into a
-- completed one. Returns 'stored' with the image's consensus inputs after the write (r_inputs, one row per
-- vote, from relabel_consensus_inputs), so the caller recounts the live consensus without another round
-- trip. Otherwise one row with r_inputs NULL, and nothing is written.
CREATE OR REPLACE FUNCTION relabel_annotation_write(
    p_image bigint, p_annotation bigint, p_user bigint, p_client_uuid uuid, p_classes bigint[], p_none_fits boolean,
    p_unsure boolean, p_bad_image boolean, p_seconds double precision, p_now timestamptz
) RETURNS TABLE (
    r_outcome text, r_annotation bigint, r_image bigint, r_dataset bigint, r_key varchar, r_shown bigint[],
    r_unknown bigint[], r_inputs relabel_consensus_row
) LANGUAGE plpgsql AS $$
DECLARE
    v_member boolean;
    v_lease bigint;
    v_existing bigint;
    v_replay record;
    v_number int;
BEGIN
    r_image := p_image;
    IF p_annotation IS NOT NULL THEN
        SELECT a.image_id INTO r_image FROM annotator_annotation a WHERE a.id = p_annotation AND a.annotator_id = p_user;
        IF NOT FOUND THEN
            r_outcome := 'not_yours';
            r_annotation := p_annotation;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    SELECT i.dataset_id, i.key,
           EXISTS (SELECT 1 FROM annotator_dataset_annotators m
                   WHERE m.dataset_id = i.dataset_id AND m.user_id = p_user),
           l.id, coalesce(l.shown, e.shown), e.id
    INTO r_dataset, r_key, v_member, v_lease, r_shown, v_existing
    FROM annotator_image i
    LEFT JOIN annotator_lease l ON l.image_id = i.id AND l.annotator_id = p_user
    LEFT JOIN annotator_annotation e ON e.image_id = i.id AND e.annotator_id = p_user
    WHERE i.id = r_image
    FOR UPDATE OF i;

    SELECT r.annotation_id, a.image_id INTO v_replay
    FROM annotator_annotationrevision r JOIN annotator_annotation a ON a.id = r.annotation_id
    WHERE r.annotator_id = p_user AND r.client_uuid = p_client_uuid;
    IF FOUND THEN
        r_outcome := CASE WHEN v_replay.image_id = r_image THEN 'replay' ELSE 'uuid_reused' END;
        r_annotation := v_replay.annotation_id;
    ELSIF r_dataset IS NULL OR NOT v_member THEN
        r_outcome := 'not_member';
    ELSIF p_annotation IS NULL AND v_lease IS NULL THEN
        r_outcome := CASE WHEN v_existing IS NULL THEN 'not_leased' ELSE 'already_annotated' END;
        r_annotation := v_existing;
    ELSE
        -- One primary-key probe per chosen class (a join would hash the whole vocabulary).
        SELECT array_agg(u.id ORDER BY u.n) INTO r_unknown
        FROM unnest(p_classes) WITH ORDINALITY AS u(id, n)
        WHERE (SELECT c.dataset_id FROM annotator_labelclass c WHERE c.id = u.id) IS DISTINCT FROM r_dataset;
        IF r_unknown IS NOT NULL THEN
            r_outcome := 'unknown_classes';
        END IF;
    END IF;
    IF r_outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    IF p_annotation IS NULL THEN
        INSERT INTO annotator_annotation (image_id, annotator_id, dataset_id, classes, shown, none_fits, unsure,
                                          bad_image, seconds, client_uuid, revision_count, created_at, updated_at)
        VALUES (r_image, p_user, r_dataset, p_classes, r_shown, p_none_fits, p_unsure, p_bad_image, p_seconds,
                p_client_uuid, 1, p_now, p_now)
        RETURNING id, revision_count INTO r_annotation, v_number;
        -- The lease becomes the annotation: its slot turns from a held one into a completed one.
        DELETE FROM annotator_lease WHERE id = v_lease;
        UPDATE annotator_image SET annotation_count = annotation_count + 1, lease_count = lease_count - 1
        WHERE id = r_image;
    ELSE
        UPDATE annotator_annotation
        SET classes = p_classes, none_fits = p_none_fits, unsure = p_unsure, bad_image = p_bad_image,
            seconds = seconds + p_seconds, revision_count = revision_count + 1, updated_at = p_now
        WHERE id = p_annotation
        RETURNING id, revision_count INTO r_annotation, v_number;
    END IF;
    INSERT INTO annotator_annotationrevision (annotation_id, annotator_id, number, classes, none_fits, unsure,
                                              bad_image, seconds, client_uuid, created_at)
    VALUES (r_annotation, p_user, v_number, p_classes, p_none_fits, p_unsure, p_bad_image, p_seconds,
            p_client_uuid, p_now);
    PERFORM relabel_votes_write(r_annotation, r_image, p_user, r_shown, p_classes, p_unsure, p_bad_image,
                                p_annotation IS NOT NULL);
    r_outcome := 'stored';
    RETURN QUERY
    SELECT r_outcome, r_annotation, r_image, r_dataset, r_key, r_shown, r_unknown, ci
    FROM relabel_consensus_inputs(r_image) AS ci;
END
$$;
