"""Filters for the staff-only audit history."""

import django_filters

from ..models import PredictionRequest


class PredictionRequestFilter(django_filters.FilterSet):
    model_version = django_filters.CharFilter(
        method="filter_model_version", help_text="A version label such as v3 (or just 3)."
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601 date-time, inclusive."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601 date-time, exclusive."
    )
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date")

    class Meta:
        model = PredictionRequest
        fields = ["channel", "accepted", "model_version", "created_after", "created_before", "date"]

    def filter_model_version(self, queryset, name, value):
        number = value.strip().lower().removeprefix("v")
        if not number.isdigit():
            return queryset.none()
        return queryset.filter(model_version__number=int(number))
