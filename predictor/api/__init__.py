"""The REST API door: DRF parsers, serializers, views and the error envelope."""
