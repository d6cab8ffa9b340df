"""A customer as it enters the store (CSV import, demo data, the API). Pure data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cti.store.models import LIFECYCLES

__all__ = ["LIFECYCLES", "NewCustomer"]


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """``phones`` are raw numbers in any format; the store normalizes them (unusable ones are dropped)."""

    name: str
    phones: Sequence[str] = ()
    company: str = ""
    email: str = ""
    owner: str = ""
    language: str = ""
    tags: Sequence[str] = ()
    lifecycle: str = "prospect"
    notes: str = ""
    external_ref: str | None = None
    do_not_call: bool = False
    dnc_source: str = ""
    created_at: float | None = None
