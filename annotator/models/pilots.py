"""A dataset's pilot sample: n images drawn before full re-labelling, to estimate what the whole will show."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.models.datasets import Dataset
from annotator.models.images import Image

# The hand-out reads every open image of the active pilot (relabel_lease_next): this bounds that cost.
MAX_PILOT_IMAGES = 5000


class Pilot(models.Model):
    """A seeded sample of a dataset's images (`evaluation.core.pilot.pilot_sample`); `PilotImage` rows hold it.

    At most one pilot of a dataset is active; creating a new one retires the old (`annotator.services.pilots`).
    The rows are never changed afterwards except `active`, so (dataset, n, mode, seed) always reproduces them.
    """

    class Mode(models.TextChoices):
        UNIFORM = "uniform", "Uniform random sample"
        STRATIFIED = "stratified", "Stratified by original class"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="pilots")
    n = models.PositiveIntegerField(help_text="Images in the sample.")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.UNIFORM)
    seed = models.BigIntegerField(help_text="Seed of the sampler; the same seed draws the same images.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset"], condition=Q(active=True), name="pilot_one_active_per_dataset"),
            models.CheckConstraint(condition=Q(n__gte=1, n__lte=MAX_PILOT_IMAGES), name="pilot_n_bounded"),
            models.CheckConstraint(condition=Q(mode__in=["uniform", "stratified"]), name="pilot_mode_known"),
            models.CheckConstraint(condition=Q(seed__gte=0), name="pilot_seed_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} pilot {self.pk} ({self.n} {self.mode}, seed {self.seed})"


class PilotImage(models.Model):
    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="images")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pilot", "image"], name="pilot_image_unique")]
        indexes = [models.Index(fields=["image"], name="pilot_image_image_idx")]

    def __str__(self) -> str:
        return f"{self.pilot_id}:{self.image_id}"
