"""The annotation hot paths as PostgreSQL functions (issue 8).

"Next image" and "submit" ran 8 and 11 statements, each a round trip with its own planning. As functions
they are one call each; PL/pgSQL keeps the plans of their statements for the life of the connection
(persistent with CONN_MAX_AGE). The lock order stays the services' own: image rows first, then leases.
`annotator.services.assignment` and `annotator.services.annotations` call them and document the rules.
"""

from django.db import migrations, models

SHOWN = """
-- The classes an annotator is shown for an image: its stored candidates, or the original label alone
-- until there are any; in an order seeded by both ids, so the same annotator sees the same order on every
-- reload, different annotators see different orders, and the order says nothing about the source.
CREATE OR REPLACE FUNCTION relabel_shown(p_image bigint, p_user bigint, p_original bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT array_agg(c.label_class_id ORDER BY md5(format('relabel:%s:%s:%s', p_image, p_user, c.label_class_id)))
         FROM annotator_candidate c WHERE c.image_id = p_image),
        CASE WHEN p_original IS NULL THEN '{}'::bigint[] ELSE ARRAY[p_original] END)
$$;
"""

RECLAIM = """
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
"""

LEASE_NEXT = """
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
        -- The first image, in hand-out order, that the user has never annotated, held or skipped, looking at
        -- the first 64 open images of the queue (the head, shared by everyone at work); when the user has done
        -- all of those, the first fresh image by position; only when none is left, the whole queue. So the
        -- pick costs the same however many open images the user already annotated.
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

        IF v_image IS NULL THEN  -- nobody has annotated or holds a fresh image: only a skip can exclude it
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
"""

VOTES_WRITE = """
-- An annotation's votes, replacing any earlier ones: chosen classes (shown or found through search) yes;
-- shown and not chosen no, or maybe when the annotator is unsure. A bad image with nothing chosen judged
-- no class: no votes.
CREATE OR REPLACE FUNCTION relabel_votes_write(
    p_annotation bigint, p_image bigint, p_user bigint, p_shown bigint[], p_classes bigint[], p_unsure boolean,
    p_bad_image boolean, p_replace boolean
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_replace THEN
        DELETE FROM annotator_vote WHERE image_id = p_image AND annotator_id = p_user;
    END IF;
    IF p_bad_image AND cardinality(p_classes) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO annotator_vote (image_id, label_class_id, annotator_id, annotation_id, answer)
    SELECT p_image, c.id, p_user, p_annotation,
           CASE WHEN c.id = ANY (p_classes) THEN 'yes' WHEN p_unsure THEN 'maybe' ELSE 'no' END
    FROM (SELECT DISTINCT unnest(p_shown || p_classes) AS id) c;
END
$$;
"""

CONSENSUS_INPUTS = """
-- What the live recount of one image needs: its annotations left-joined to their votes (one row each;
-- one row of NULLs without annotations), each row carrying the image's counts and its dataset's consensus
-- settings and Dawid-Skene run. Read by annotator.consensus_selectors.image_consensus_inputs.
CREATE OR REPLACE FUNCTION relabel_consensus_inputs(p_image bigint) RETURNS TABLE (
    c_needed int, c_original_label bigint, c_dataset bigint, c_threshold double precision,
    c_dispute_band double precision, c_min_answers int, c_aggregation text, c_ds_threshold double precision,
    c_ds_prior text, c_ds_run bigint, c_ds_run_created timestamptz, c_annotator bigint, c_none_fits boolean,
    c_unsure boolean, c_bad_image boolean, c_chose boolean, c_seconds double precision, c_class bigint,
    c_class_index int, c_answer text
) LANGUAGE sql STABLE AS $$
    SELECT i.annotations_needed::int, i.original_label_id::bigint, i.dataset_id::bigint, d.consensus_threshold,
           d.dispute_band, d.annotations_per_image::int, d.aggregation::text, d.ds_threshold, d.ds_prior::text,
           d.ds_run_id::bigint, r.created_at, a.annotator_id::bigint, a.none_fits, a.unsure, a.bad_image,
           cardinality(a.classes) > 0, a.seconds, v.label_class_id::bigint, c.index::int, v.answer::text
    FROM annotator_image i
    JOIN annotator_dataset d ON d.id = i.dataset_id
    LEFT JOIN annotator_dawidskenerun r ON r.id = d.ds_run_id
    LEFT JOIN annotator_annotation a ON a.image_id = i.id
    LEFT JOIN annotator_vote v ON v.annotation_id = a.id
    LEFT JOIN annotator_labelclass c ON c.id = v.label_class_id
    WHERE i.id = p_image
$$;
"""

SUBMIT = """
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
"""

DROP = """
DROP FUNCTION IF EXISTS relabel_annotation_submit(bigint, bigint, uuid, bigint[], boolean, boolean, boolean,
                                                  double precision, timestamptz);
DROP FUNCTION IF EXISTS relabel_consensus_inputs(bigint);
DROP FUNCTION IF EXISTS relabel_votes_write(bigint, bigint, bigint, bigint[], bigint[], boolean, boolean, boolean);
DROP FUNCTION IF EXISTS relabel_lease_next(bigint, bigint, bigint[], timestamptz, timestamptz, int);
DROP FUNCTION IF EXISTS relabel_leases_reclaim(bigint, timestamptz);
DROP FUNCTION IF EXISTS relabel_shown(bigint, bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("annotator", "0009_adjudication_client_uuid")]

    operations = [
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                models.F("dataset"),
                models.F("position"),
                condition=models.Q(annotation_count=0, lease_count=0, more_requested_at__isnull=True),
                name="image_fresh_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("thumbnail", ""), _negated=True),
                fields=["dataset", "original_label", "position"],
                name="image_reference_idx",
            ),
        ),
        migrations.RunSQL(SHOWN + RECLAIM + LEASE_NEXT + VOTES_WRITE + CONSENSUS_INPUTS + SUBMIT, reverse_sql=DROP),
    ]
