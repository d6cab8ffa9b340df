"""Erlang C: the M/M/c queue's waiting probability, ASA and service level (the benchmark's reference)."""

from __future__ import annotations

import math


def erlang_c(erlangs: float, agents: int) -> float:
    """P(wait > 0) for ``erlangs`` of offered load on ``agents`` servers (1 when agents <= erlangs).

    Computed through the Erlang B recursion (stable for thousands of agents):
    B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)); C = c B / (c - A (1 - B))."""
    if agents <= erlangs:
        return 1.0
    b = 1.0
    for k in range(1, agents + 1):
        b = erlangs * b / (k + erlangs * b)
    return agents * b / (agents - erlangs * (1.0 - b))


def asa(erlangs: float, agents: int, aht: float) -> float:
    """Mean wait of all calls: C * AHT / (c - A)."""
    if agents <= erlangs:
        return math.inf
    return erlang_c(erlangs, agents) * aht / (agents - erlangs)


def service_level(erlangs: float, agents: int, aht: float, threshold: float) -> float:
    """P(wait <= T) = 1 - C exp(-(c - A) T / AHT)."""
    if agents <= erlangs:
        return 0.0
    return 1.0 - erlang_c(erlangs, agents) * math.exp(-(agents - erlangs) * threshold / aht)
