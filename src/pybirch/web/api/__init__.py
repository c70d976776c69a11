"""The REST API under ``/api/v1`` (and the seed plan's ``/api/...`` routes)."""
