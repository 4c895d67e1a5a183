"""Filters for the staff-only audit history."""

from datetime import datetime, time, timedelta

import django_filters
from django.utils import timezone

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
    date = django_filters.DateFilter(
        method="filter_date", help_text="A day (YYYY-MM-DD) in the site's time zone."
    )

    class Meta:
        model = PredictionRequest
        fields = ["channel", "accepted", "model_version", "created_after", "created_before", "date"]

    def filter_model_version(self, queryset, name, value):
        # The version's id first, so that PostgreSQL reads its rows newest first from the
        # (model_version, created_at) index instead of joining every row to its version.
        number = ModelVersion.number_from_label(value)
        version = ModelVersion.objects.filter(number=number).values_list("pk", flat=True).first()
        if number is None or version is None:
            return queryset.none()
        return queryset.filter(model_version_id=version)

    def filter_date(self, queryset, name, value):
        # A range on the created_at index: `created_at__date` converts every row's timestamp.
        start = timezone.make_aware(datetime.combine(value, time.min))
        end = timezone.make_aware(datetime.combine(value + timedelta(days=1), time.min))
        return queryset.filter(created_at__gte=start, created_at__lt=end)
