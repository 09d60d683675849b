"""Pydantic models of everything that crosses the HTTP boundary (api.md)."""
