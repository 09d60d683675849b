"""One router per resource, joined in backend.api.router."""
