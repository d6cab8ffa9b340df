"""The HTTP API for CRM integration (docs/api.json): callbacks, caller look-up, click-to-call."""
