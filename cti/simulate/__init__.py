"""``cti simulate``: the traffic file, the app_queue baselines and the command (the engine and cti's
dispatcher are pure, in ``cti.routing.simulate``)."""
