-- The classes an annotator is shown for an image: its stored candidates, or the original label alone
-- until there are any; in an order seeded by both ids, so the same annotator sees the same order on every
-- reload, different annotators see different orders, and the order says nothing about the source.
-- Leaves out the classes the image's consensus counts as settled (adaptive redundancy: a later annotation is
-- asked only the still-open questions; under fixed redundancy none is ever settled).
CREATE OR REPLACE FUNCTION relabel_shown(p_image bigint, p_user bigint, p_original bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM annotator_candidate c WHERE c.image_id = p_image) THEN
            coalesce((SELECT array_agg(c.label_class_id
                                       ORDER BY md5(format('relabel:%s:%s:%s', p_image, p_user, c.label_class_id)))
                      FROM annotator_candidate c
                      WHERE c.image_id = p_image AND NOT c.label_class_id = ANY (settled.classes)),
                     '{}'::bigint[])
        WHEN p_original IS NULL OR p_original = ANY (settled.classes) THEN '{}'::bigint[]
        ELSE ARRAY[p_original]
    END
    FROM (SELECT coalesce((SELECT s.settled_classes FROM annotator_consensus s WHERE s.image_id = p_image),
                          '{}'::bigint[]) AS classes) AS settled
$$;
