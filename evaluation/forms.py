"""Input forms of the evaluation pages: they parse and bound input; services do the work."""

from __future__ import annotations

from django import forms

from config.text_rules import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, refuse_bidi_controls
from evaluation.models import PredictionSet

FORMAT_HELP = 'CSV (image,top5), JSONL ({"image", "classes", "scores"}), .npy (N×k classes or N×C scores) or .npz.'


class PredictionSetUploadForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[refuse_bidi_controls],
        help_text="Unique within the dataset, e.g. resnet50-torchvision.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=DESCRIPTION_MAX_LENGTH
    )
    file = forms.FileField(help_text=FORMAT_HELP)
    use_for_candidates = forms.BooleanField(
        required=False, help_text="Propose this model's top-k classes to annotators as candidates."
    )


class CandidateSourcesForm(forms.Form):
    prediction_sets = forms.ModelMultipleChoiceField(
        queryset=PredictionSet.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, dataset_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prediction_sets"].queryset = PredictionSet.objects.filter(dataset_id=dataset_id)


class ReleaseForm(forms.Form):
    """Parameters of a new release; blank fields take the dataset's settings."""

    aggregation = forms.ChoiceField(
        choices=[("", "Dataset's setting"), ("majority", "Majority vote"), ("dawid_skene", "Dawid–Skene")],
        required=False,
    )
    threshold = forms.FloatField(
        required=False, min_value=0.01, max_value=1.0, help_text="Majority: yes-share τ. Dawid–Skene: posterior cut."
    )
    min_annotations = forms.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Images with fewer annotations are released as pending."
    )
    apply_adjudications = forms.BooleanField(
        required=False, initial=True, help_text="Reviewers' final label sets (and exclusions) replace the crowd's."
    )
    unanswered_as_original = forms.BooleanField(
        required=False,
        label="Unanswered images keep their original label",
        help_text="ReaL's convention: an image nobody answered is listed with its original label (status "
        "'original') instead of an empty list (pending). On by default when the dataset has original labels.",
    )
    # One per rendered form: submitting the same form twice (a double click, a resent POST) makes one release.
    client_uuid = forms.UUIDField(required=False, widget=forms.HiddenInput)
