"""The Rasa 3.6 server as this project runs it: Rasa's own CLI with a few measured fixes applied first.

`python -m bot_runtime run …` takes exactly the arguments of `rasa run …` (and `test`, `shell`, …).
Each fix lives in `patches.py` with the measurement that justified it and a test that pins its
behaviour to Rasa's original.
"""

# A served model's TensorFlow threads (see __main__); the latency benchmark gives the stock bot the same.
SERVING_THREADS = {"TF_INTER_OP_PARALLELISM_THREADS": "1", "TF_INTRA_OP_PARALLELISM_THREADS": "1"}

