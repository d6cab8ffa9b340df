"""Errors split in two families, as h11 does: the peer sent garbage, or the caller misused the API."""


class CtiError(Exception):
    """Base class of every cti error."""


class ProtocolError(CtiError):
    """The remote peer (Asterisk, a websocket client, a CSV file) sent something invalid."""


class UsageError(CtiError):
    """Our own code or the operator misused an API or a configuration."""


class ConfigError(UsageError):
    """A configuration file is wrong. The message names the file, the key and what is wrong."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem
