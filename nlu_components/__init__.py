"""Custom Rasa NLU components for Chinese after-sales text (run in the Rasa server's Python 3.10)."""
