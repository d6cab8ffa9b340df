"""The HTTP API for CRM integration (docs/api.yaml): callbacks, caller look-up, click-to-call."""
