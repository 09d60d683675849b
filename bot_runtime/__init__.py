"""The Rasa 3.6 server as this project runs it: Rasa's own CLI with a few measured fixes applied first.

`python -m bot_runtime run …` takes exactly the arguments of `rasa run …` (and `test`, `shell`, …).
Each fix lives in `patches.py` with the measurement that justified it and a test that pins its
behaviour to Rasa's original.
"""
