"""HTTP API of the case backend (prefix /api/v1)."""
