"""Statistics and alerts for the platform's supervisors (docs/stats.md)."""
