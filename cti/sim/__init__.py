"""The simulated Asterisk: an AMI server with callers, agents and a PSTN behind it (`cti sim`).

Entry points: ``cti.sim.server.SimServer`` (in-process, for tests and the demo), ``cti.sim.cli``
(the ``cti sim`` command), ``cti.sim.scenario.load_scenario`` (the TOML scenario). The model
(``pbx``, ``queues``, ``agents``, ``pstn``, ``callers``, ``channels``, ``timeline``) is pure and
deterministic; ``protocol`` and ``server`` are the asyncio edge. See docs/sim.md and
docs/design/sim.md.
"""
