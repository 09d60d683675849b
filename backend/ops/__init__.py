"""Operator tooling that runs beside the service: backups and restores (backend.ops.backup)."""
