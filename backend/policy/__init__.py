"""The after-sales policy: its configuration file, the calendar it counts with, and the engine."""
