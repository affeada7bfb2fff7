"""python -m bench.pilot_handout — what an active pilot costs the hand-out (`relabel_lease_next`).

A file-less dataset of 20,000 images (N = 3) in the database `relabel_bench`; 200 annotators each ask for one
image (the lease is then dropped again), without a pilot, with a 5,000-image pilot open, with all of its images
complete (so both pilot reads find nothing) and after retiring it. Prints the median and p95 per call.
"""

from __future__ import annotations

import os
import statistics
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_bench")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from annotator.core.import_sources import ImageSpec
    from annotator.core.vocabulary import ClassSpec
    from annotator.models import Dataset, Image, Lease, PilotImage
    from annotator.services.assignment import lease_next
    from annotator.services.datasets import dataset_create, vocabulary_import
    from annotator.services.image_import import images_import
    from annotator.services.pilots import pilot_create, pilot_deactivate

    call_command("migrate", verbosity=0)
    Dataset.objects.filter(slug="pilot-handout").delete()
    dataset = dataset_create(slug="pilot-handout", name="pilot hand-out", annotations_per_image=3)
    vocabulary_import(dataset=dataset, classes=[ClassSpec(index=i, key=f"n{i:08d}", name=f"c{i}") for i in range(10)])
    specs = [ImageSpec(key=f"i{p:06d}.JPEG", path=None, label=str(p % 10), source="m") for p in range(20_000)]
    images_import(dataset=dataset, specs=specs, with_files=False)
    users = [User.objects.get_or_create(username=f"handout{i}")[0] for i in range(200)]
    dataset.annotators.add(*users)

    def timed(label: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotator_image")
        samples = []
        for user in users:
            started = time.perf_counter()
            lease_next(dataset=dataset, annotator=user)
            samples.append(time.perf_counter() - started)
        Lease.objects.filter(dataset=dataset).delete()
        Image.objects.filter(dataset=dataset).update(lease_count=0)
        samples.sort()
        median, p95 = statistics.median(samples), samples[int(0.95 * len(samples))]
        print(f"{label}: median {1000 * median:.2f} ms, p95 {1000 * p95:.2f} ms")

    timed("no pilot")
    pilot = pilot_create(dataset=dataset, n=5000, seed=1)
    timed("pilot of 5,000 images, open")
    Image.objects.filter(pk__in=PilotImage.objects.filter(pilot=pilot).values("image_id")).update(annotation_count=3)
    timed("pilot of 5,000 images, all complete")
    pilot_deactivate(pilot=pilot)
    timed("pilot retired")
    Dataset.objects.filter(slug="pilot-handout").delete()


if __name__ == "__main__":
    main()
