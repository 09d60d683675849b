"""Cases: the lifecycle state machine, filing and materials, deadlines and progress."""
