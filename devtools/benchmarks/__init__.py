"""Benchmarks for `./dev bench [NAME...]`. Each prints one JSON object a line:

    {"name", "value", "unit", "target", "baseline": {"name", "value"}, "ratio"}

`ratio` is value / baseline value, both measured in the same run on the same machine.
A benchmark module registers a function under a name; it yields its results.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

REGISTRY: dict[str, Callable[[], Iterator[Result]]] = {}


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    target: str
    baseline_name: str
    baseline_value: float

    def as_json(self) -> str:
        ratio = round(self.value / self.baseline_value, 3) if self.baseline_value else None
        return json.dumps(
            {
                "name": self.name,
                "value": round(self.value, 4),
                "unit": self.unit,
                "target": self.target,
                "baseline": {"name": self.baseline_name, "value": round(self.baseline_value, 4)},
                "ratio": ratio,
            },
            ensure_ascii=False,
        )


def benchmark(name: str) -> Callable[[Callable[[], Iterator[Result]]], Callable[[], Iterator[Result]]]:
    def register(func: Callable[[], Iterator[Result]]) -> Callable[[], Iterator[Result]]:
        REGISTRY[name] = func
        return func

    return register


def timed(func: Callable[[], object], repeat: int = 1) -> float:
    """Median wall-clock seconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def load_all() -> None:
    from devtools.benchmarks import (  # noqa: F401 - registers their benchmarks
        api,
        coordination,
        fanout,
        imports,
        insights,
        journeys,
        loyalty,
        tenancy,
    )
