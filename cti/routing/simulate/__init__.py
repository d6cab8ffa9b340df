"""A discrete-event simulation of a contact center around cti's router (``cti simulate``, the benchmark).

- ``traffic``: what runs (call types, hourly arrivals, distributions, agent groups), as data;
- ``engine``: the event loop (a heap of timed events, a seeded ``random.Random``, no wall clock) and
  the figures it measures;
- ``dispatchers``: cti's ``Router`` as the engine's dispatcher (a thin adapter);
- ``erlang``: the Erlang C reference the benchmark checks the engine against.

The traffic file, the app_queue baselines (which reuse the simulated Asterisk's strategies) and the
command live in ``cti.simulate``: the core may not import ``cti.sim``.
"""
