-- What the live recount of one image needs: its annotations left-joined to their votes (one row each;
-- one row of NULLs without annotations), each row carrying the image's counts and its dataset's consensus
-- and redundancy settings and Dawid-Skene run (the columns of relabel_consensus_row).
CREATE OR REPLACE FUNCTION relabel_consensus_inputs(p_image bigint) RETURNS SETOF relabel_consensus_row
LANGUAGE sql STABLE AS $$
    SELECT i.annotations_needed::int, i.original_label_id::bigint, i.dataset_id::bigint, d.consensus_threshold,
           d.dispute_band, d.annotations_per_image::int, d.aggregation::text, d.ds_threshold, d.ds_prior::text,
           d.ds_run_id::bigint, r.created_at, a.annotator_id::bigint, a.none_fits, a.unsure, a.bad_image,
           cardinality(a.classes) > 0, a.seconds, v.label_class_id::bigint, c.index::int, v.answer::text,
           i.extra_annotations::int, d.redundancy::text, d.redundancy_min::int, d.redundancy_max::int,
           d.redundancy_confidence,
           CASE WHEN v.label_class_id IS NULL THEN false
                WHEN d.redundancy <> 'adaptive' THEN true  -- only adaptive redundancy asks (no probes otherwise)
                ELSE EXISTS (SELECT 1 FROM annotator_candidate k
                             WHERE k.image_id = i.id AND k.label_class_id = v.label_class_id)
                     OR (v.label_class_id IS NOT DISTINCT FROM i.original_label_id
                         AND NOT EXISTS (SELECT 1 FROM annotator_candidate k WHERE k.image_id = i.id))
           END
    FROM annotator_image i
    JOIN annotator_dataset d ON d.id = i.dataset_id
    LEFT JOIN annotator_dawidskenerun r ON r.id = d.ds_run_id
    LEFT JOIN annotator_annotation a ON a.image_id = i.id
    LEFT JOIN annotator_vote v ON v.annotation_id = a.id
    LEFT JOIN annotator_labelclass c ON c.id = v.label_class_id
    WHERE i.id = p_image
$$;
