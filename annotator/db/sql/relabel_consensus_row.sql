-- One row of what the live recount of one image needs (relabel_consensus_inputs, and the write of an answer
-- after it stored one): the image's counts, its dataset's consensus and redundancy settings and Dawid-Skene run,
-- and one vote with its annotation (NULLs when the image has no annotation; the vote's columns NULL for an
-- annotation without votes). c_candidate: the vote's class is one the image's annotators are asked about (a
-- candidate, or the original label of an image without candidates), not one found through search; always true
-- under fixed redundancy, which does not ask. Parsed by name in
-- annotator.selectors.consensus.consensus_inputs_from_rows.
CREATE TYPE relabel_consensus_row AS (
    c_needed int, c_original_label bigint, c_dataset bigint, c_threshold double precision,
    c_dispute_band double precision, c_min_answers int, c_aggregation text, c_ds_threshold double precision,
    c_ds_prior text, c_ds_run bigint, c_ds_run_created timestamptz, c_annotator bigint, c_none_fits boolean,
    c_unsure boolean, c_bad_image boolean, c_chose boolean, c_seconds double precision, c_class bigint,
    c_class_index int, c_answer text, c_extra int, c_redundancy text, c_redundancy_min int, c_redundancy_max int,
    c_redundancy_confidence double precision, c_candidate boolean
);
