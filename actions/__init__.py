"""Custom actions of the after-sales assistant (rasa-sdk, Python 3.11).

Thin by design: every policy decision comes from the case backend through backend_client.
"""

from actions.logcontext import install as _install_logging

_install_logging()  # log lines carry the conversation id and are redacted (actions/logcontext.py)
