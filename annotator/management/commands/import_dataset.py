"""python manage.py import_dataset SLUG --vocab FILE [--images DIR] [--labels CSV | --manifest FILE] ..."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.core.import_sources import LAYOUTS, ImportSourceError, discover
from annotator.core.vocabulary import BUILTIN_IMAGENET, VocabularyError, parse_vocabulary
from annotator.models import Dataset
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.image_import import UnknownClassError, images_import
from config.text_rules import TextInputError


class Command(BaseCommand):
    help = (
        "Create or extend a dataset: its vocabulary and its images, from a flat folder plus a "
        "ground-truth CSV, an ImageFolder tree, an ImageNetV2 tree, or a manifest. Re-running skips "
        "images already imported. Exit status 2 on invalid input (nothing written)."
    )
    # Django's system checks import every URL module and view (about 0.9 s, most of the start-up of a 50,000-image
    # metadata import that takes 3 s in all); an import needs none of them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--vocab",
            type=Path,
            default=None,
            help="class_info.json, imagenet_class_index.json, LOC_synset_mapping.txt or a plain list. "
            "Default for a new dataset: the built-in ImageNet-1k vocabulary.",
        )
        parser.add_argument(
            "--layout", choices=LAYOUTS, default=None, help="Guessed from the other options if omitted."
        )
        parser.add_argument("--images", type=Path, help="The image folder (or tree root, or manifest root).")
        parser.add_argument(
            "--labels", type=Path, help="Ground-truth CSV: image,wnid | image,index | ImageId,PredictionString."
        )
        parser.add_argument("--manifest", type=Path, help="Manifest CSV (path[,label]) or JSONL.")
        parser.add_argument(
            "--no-files", action="store_true", help="Create file-less image records from --labels alone."
        )
        parser.add_argument("--annotations-per-image", type=int, default=None)
        parser.add_argument("--workers", type=int, default=1, help="Processes decoding images.")
        parser.add_argument("--batch-size", type=int, default=256)

    def handle(self, *args: object, **options: Any) -> None:
        slug = str(options["slug"])
        images, labels, manifest = options["images"], options["labels"], options["manifest"]
        no_files = bool(options["no_files"])
        layout = options["layout"] or ("manifest" if manifest else "flat" if labels or no_files else "imagefolder")
        try:
            specs = discover(layout, root=None if no_files else images, labels_csv=labels, manifest=manifest)
            dataset = self._dataset(slug, options)
            vocab_path = options["vocab"]
            if vocab_path is None and not dataset.classes.exists():
                vocab_path = BUILTIN_IMAGENET
            if vocab_path is not None:
                created = vocabulary_import(dataset=dataset, classes=parse_vocabulary(vocab_path))
                self.stdout.write(f"vocabulary: {created} classes added to {dataset.slug}")
            with tqdm(total=len(specs), unit="img", disable=None, file=self.stderr) as bar:
                report = images_import(
                    dataset=dataset,
                    specs=specs,
                    with_files=not no_files,
                    workers=int(options["workers"]),
                    batch_size=int(options["batch_size"]),
                    progress=bar.update,
                )
        except (ImportSourceError, VocabularyError, UnknownClassError, FileNotFoundError, TextInputError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        for source, reason in report.failed:
            self.stderr.write(f"skipped {source}: {reason}")
        self.stdout.write(self.style.SUCCESS(f"{dataset.slug}: {report.summary()}"))

    def _dataset(self, slug: str, options: dict) -> Dataset:
        dataset = Dataset.objects.filter(slug=slug).first()
        if dataset is None:
            settings = {}
            if options["annotations_per_image"]:
                settings["annotations_per_image"] = options["annotations_per_image"]
            dataset = dataset_create(slug=slug, name=str(options["name"] or slug), **settings)
        return dataset
