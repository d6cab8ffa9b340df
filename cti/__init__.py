"""cti: an event-driven call-center CTI service for Asterisk."""

__version__ = "0.1.0"
