"""Operations: Prometheus metrics (`metrics`), structured and redacted logs (`logs`), their ASGI wiring (`web`).

Nothing is imported here on purpose: the action server imports `backend.observability.logs` (standard
library only) without pulling in FastAPI, SQLAlchemy or prometheus_client.
"""
