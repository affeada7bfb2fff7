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
