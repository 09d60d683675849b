"""The benchmarks are run by hand, not by the test command: importing each one here keeps them from
rotting silently when a module they use moves (bench/bot_latency.py once imported a name from a
test module that had lost it)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.support.stack import ROOT

BENCHMARKS = sorted(p for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_imports_and_has_a_main(path) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert callable(module.main)
