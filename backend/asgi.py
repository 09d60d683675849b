"""ASGI entry point for uvicorn workers: `uvicorn backend.asgi:app`."""

from backend.main import create_app

app = create_app()
