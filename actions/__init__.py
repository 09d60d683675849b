"""Custom actions of the after-sales assistant (rasa-sdk, Python 3.11).

Thin by design: every policy decision comes from the case backend through backend_client.
"""
