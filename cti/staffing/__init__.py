"""Staffing: Erlang C / Erlang A (``erlang``), forecasts from history (``forecast``), ``cti staffing``."""
