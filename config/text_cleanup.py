"""A migration step that makes existing rows meet the text rules before their constraints are added.

Names lose their bidi control characters (a name that then equals another in the same dataset gets its id
appended, to stay unique); text longer than its limit is cut, ending in "…". What changed is printed.
"""

from __future__ import annotations

from django.db import migrations
from django.db.models import Q
from django.db.models.functions import Length

from config.text_rules import BIDI_CONTROL_PATTERN, without_bidi_controls


def existing_text_cleanup(
    model: str, *, names: tuple[str, ...] = (), limits: dict[str, int], unique_within: str | None = None
) -> migrations.RunPython:
    """RunPython fixing `model`'s rows ("app.Model"): bidi controls out of `names`, `limits` {field: length}
    enforced; `unique_within` is the field a name is unique within, if any."""

    def forward(apps, schema_editor) -> None:  # noqa: ANN001 - Django's migration signature
        model_class = apps.get_model(model)
        rows = model_class.objects.annotate(**{f"length_of_{field}": Length(field) for field in limits})
        needing = Q(pk__in=[])
        for field in names:
            needing |= Q(**{f"{field}__regex": BIDI_CONTROL_PATTERN})
        for field, limit in limits.items():
            needing |= Q(**{f"length_of_{field}__gt": limit})
        changed = 0
        for row in rows.filter(needing).order_by("pk"):
            fields = []
            for field in names:
                value = without_bidi_controls(getattr(row, field)).strip() or f"{model_class.__name__} {row.pk}"
                same = {field: value, **({unique_within: getattr(row, unique_within)} if unique_within else {})}
                if unique_within and model_class.objects.exclude(pk=row.pk).filter(**same).exists():
                    value = f"{value} ({row.pk})"
                setattr(row, field, value)
                fields.append(field)
            for field, limit in limits.items():
                if len(getattr(row, field)) > limit:
                    setattr(row, field, getattr(row, field)[: limit - 1] + "…")
                fields.append(field)
            row.save(update_fields=fields)
            changed += 1
        if changed:
            print(f"\n  {model}: {changed} row(s) changed to meet the text limits (bidi controls, length)")  # noqa: T201

    return migrations.RunPython(forward, migrations.RunPython.noop, elidable=True)
