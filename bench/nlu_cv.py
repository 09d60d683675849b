"""Benchmark: NLU cross-validation — intent macro-F1, entity F1 and a per-intent table.

Runs `rasa test nlu --cross-validation` with config_nlu_testing.yml (the production pipeline minus
the FallbackClassifier, as rasa-demo does) on all NLU data (retrieval sub-intents of ask_policy are
scored as ask_policy by DIET and separately by the ResponseSelector), then prints the figures the
README records. Order numbers, case ids and tracking numbers are never annotated (regexes extract
them), so they have no gold labels here: the end-to-end tests check their extraction.

    .venv/bin/python bench/nlu_cv.py [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "var" / "nlu-cv"))
    args = parser.parse_args()
    out = Path(args.out)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    subprocess.run([str(ROOT / ".venv-bot/bin/python"), "-m", "bot_runtime", "test", "nlu", "--cross-validation",
                    "--folds", str(args.folds), "--config", "config_nlu_testing.yml", "--nlu", "data",
                    "--out", str(out), "--no-plot", "--no-errors"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.monotonic() - started

    intents = json.loads((out / "intent_report.json").read_text())
    entities = json.loads((out / "DIETClassifier_report.json").read_text())
    selector_path = out / "response_selection_report.json"
    print(f"NLU cross-validation, {args.folds} folds, config_nlu_testing.yml ({took / 60:.1f} min on {os.cpu_count()} cores)")
    print(f"  intent macro-F1        {intents['macro avg']['f1-score']:.3f}   accuracy {intents['accuracy']:.3f}")
    print(f"  DIET entity macro-F1   {entities['macro avg']['f1-score']:.3f}   micro-F1 {entities['micro avg']['f1-score']:.3f}")
    if selector_path.exists():
        selector = json.loads(selector_path.read_text())
        print(f"  FAQ response macro-F1  {selector['macro avg']['f1-score']:.3f}   (ResponseSelector, ask_policy/*)")
    print("  per intent:                 precision  recall   F1     support")
    for name, row in sorted(intents.items()):
        if isinstance(row, dict) and "support" in row and name not in ("macro avg", "weighted avg", "micro avg"):
            print(f"    {name:24s}  {row['precision']:.3f}     {row['recall']:.3f}  {row['f1-score']:.3f}  {row['support']:5d}")
    print("  per entity (DIET):")
    for name, row in sorted(entities.items()):
        if isinstance(row, dict) and "support" in row and name not in ("macro avg", "weighted avg", "micro avg"):
            print(f"    {name:24s}  {row['precision']:.3f}     {row['recall']:.3f}  {row['f1-score']:.3f}  {row['support']:5d}")


if __name__ == "__main__":
    sys.exit(main())
