"""ASGI entry point for uvicorn workers: `uvicorn backend.asgi:app`.

Logging is configured here, in each worker, after uvicorn configured its own: LOG_FORMAT/LOG_LEVEL
apply to every line (uvicorn's included), with the ids and the redaction of backend.observability.logs.
"""

from backend.main import create_app
from backend.observability.logs import configure_logging
from backend.settings import get_settings

settings = get_settings()
configure_logging(settings.log_format, settings.log_level)
app = create_app(settings)
