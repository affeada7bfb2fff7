"""python -m bench.pilot_handout — what an active pilot costs the hand-out (`relabel_lease_next`).

A file-less dataset of 20,000 images (N = 3) in the database `relabel_bench`; 200 annotators each ask for one
image (the lease is then dropped again), without a pilot, with a 5,000-image pilot open, with all of its images
complete (so both pilot reads find nothing) and after retiring it. Prints the median and p95 per call.
"""

from __future__ import annotations

from bench.handout import handout_world, setup_django, timed_handouts


def main() -> None:
    setup_django()
    from annotator.models import Dataset, Image, PilotImage
    from annotator.services.pilots import pilot_create, pilot_deactivate

    dataset, users = handout_world("pilot-handout")
    timed_handouts(dataset, users, "no pilot")
    pilot = pilot_create(dataset=dataset, n=5000, seed=1)
    timed_handouts(dataset, users, "pilot of 5,000 images, open")
    Image.objects.filter(pk__in=PilotImage.objects.filter(pilot=pilot).values("image_id")).update(annotation_count=3)
    timed_handouts(dataset, users, "pilot of 5,000 images, all complete")
    pilot_deactivate(pilot=pilot)
    timed_handouts(dataset, users, "pilot retired")
    Dataset.objects.filter(slug="pilot-handout").delete()


if __name__ == "__main__":
    main()
