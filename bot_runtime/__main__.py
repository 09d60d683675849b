"""`python -m bot_runtime <rasa arguments>`: Rasa's command line with `patches.apply()` done first.

A served model (`run`) does its TensorFlow work one op at a time: one turn's tensors are tiny, so
splitting an op over threads costs more in hand-offs than it saves (36 instead of 47 ms of CPU per
turn measured under load) and a server's throughput comes from running more instances. Set
TF_INTER_OP_PARALLELISM_THREADS / TF_INTRA_OP_PARALLELISM_THREADS to override.
"""

from __future__ import annotations

import os
import sys

from bot_runtime import SERVING_THREADS

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else None
    if command == "run":
        for name, value in SERVING_THREADS.items():
            os.environ.setdefault(name, value)
    from bot_runtime.patches import apply  # imports Rasa: after the environment is set
    from rasa.__main__ import main

    apply(command)
    sys.argv[0] = "rasa"
    sys.exit(main())
