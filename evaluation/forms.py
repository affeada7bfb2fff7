"""Input forms of the evaluation pages: they parse and bound input; services do the work."""

from __future__ import annotations

from django import forms

from evaluation.models import PredictionSet

FORMAT_HELP = (
    "CSV (image,top5), JSONL ({\"image\", \"classes\", \"scores\"}), .npy (N×k classes or N×C scores) or .npz."
)


class PredictionSetUploadForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Unique within the dataset, e.g. resnet50-torchvision.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
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
