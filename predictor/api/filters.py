"""Filters for the staff-only audit history."""

import django_filters

from ..models import ModelVersion, PredictionRequest


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
        number = ModelVersion.number_from_label(value)
        if number is None:
            return queryset.none()
        return queryset.filter(model_version__number=number)
