"""A discrete-event simulation of a contact center around cti's router (``cti simulate``, the benchmark).

- ``traffic``: the traffic file (call types, hourly arrivals, distributions, agent groups);
- ``engine``: the event loop (a heap of timed events, a seeded ``random.Random``, no wall clock) and
  the figures it measures;
- ``dispatchers``: who picks the agent: cti's ``Router`` (through a thin adapter) or a model of
  app_queue's strategies (one queue per call type, each on its own);
- ``erlang``: the Erlang C reference the benchmark checks the engine against;
- ``simconfig``: the ``QueuePolicy``s of a ``[routing]`` table.
"""
