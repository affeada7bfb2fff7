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
