"""The agreement dashboard: one page per dataset, read from the latest snapshot (a fixed number of queries)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.core.agreement_charts import bar_chart, capped_bins
from annotator.core.label_sets import label_count_summary
from annotator.models import Dataset
from annotator.permissions import access_consensus, require_dataset
from annotator.selectors.consensus import CLASS_SORTS, agreement_overview, sorted_classes

# Bars 0 … 9 and "10+" on the dashboard's answers-per-image chart (the API keeps every count).
ANSWER_BINS_SHOWN = 10


@require_dataset(access_consensus)
def agreement_dashboard(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    overview = agreement_overview(dataset)
    figures = overview["figures"] or {}
    sort = request.GET.get("sort", "n_questions")
    descending = request.GET.get("order", "desc") != "asc"
    histogram = figures.get("histogram", {"counts": [], "edges": []})
    edges = histogram["edges"]
    sizes = figures.get("set_size_counts", [])
    size_counts = [*sizes[:4], sum(sizes[4:])] if len(sizes) > 4 else sizes
    context = {
        "dataset": dataset,
        "overview": overview,
        "figures": figures,
        "classes": sorted_classes(figures.get("classes", []), sort, descending),
        "sort": sort if sort in CLASS_SORTS else "n_questions",
        "descending": descending,
        "class_columns": CLASS_SORTS,
        "histogram": bar_chart(
            "Agreement per image",
            [f"{edges[i]:.1f}" for i in range(len(edges) - 1)],
            histogram["counts"],
            x_label="mean P(two annotators agree) over the image's questions (bins of 0.1, by lower edge)",
        ),
        # Over the settled images with a non-empty set, as everywhere else (the snapshot's own share counts
        # empty sets in its denominator).
        "share": label_count_summary(sizes) if sizes else None,
        "set_sizes": bar_chart(
            "Classes in the consensus label set",
            [str(i) if i < 4 else "4+" for i in range(len(size_counts))],
            size_counts,
            x_label="valid classes per settled image",
            highlight_from=2,
        ),
    }
    answers = overview["answers_per_image"]
    context["answers"] = answers and bar_chart(
        f"Answers per image (mean {answers['mean']:.2f})" if answers["mean"] is not None else "Answers per image",
        *capped_bins(answers["histogram"], last=ANSWER_BINS_SHOWN),
        x_label="completed annotations per image"
        + (" (adaptive redundancy: settled images stop early)" if answers["redundancy"] == "adaptive" else ""),
    )
    return render(request, "consensus/dashboard.html", context)
