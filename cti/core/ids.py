"""Typed identifiers. AMI CamelCase never leaves the codec/translator; these names are what the rest uses."""

from typing import NewType

UniqueId = NewType("UniqueId", str)  # Asterisk channel Uniqueid ("epoch.n", "system-epoch.n" or ChannelId)
LinkedId = NewType("LinkedId", str)  # Asterisk Linkedid: the call journey key
AgentId = NewType("AgentId", str)  # queue member name as Asterisk logs it (queue_log agent column)
QueueName = NewType("QueueName", str)
ServerId = NewType("ServerId", str)  # which Asterisk (a daemon may watch several)
