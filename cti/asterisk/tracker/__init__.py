"""The call tracker: AMI messages in, domain events and finished call journeys out (see ``tracker``)."""

from cti.asterisk.tracker.agents import AgentView
from cti.asterisk.tracker.channels import ChannelView, device_of, interface_device
from cti.asterisk.tracker.originates import classify_originate
from cti.asterisk.tracker.tracker import DEFAULT_DELIVER_CONTEXTS, DEFAULT_INBOUND_CONTEXTS, CallTracker

__all__ = [
    "DEFAULT_DELIVER_CONTEXTS",
    "DEFAULT_INBOUND_CONTEXTS",
    "AgentView",
    "CallTracker",
    "ChannelView",
    "classify_originate",
    "device_of",
    "interface_device",
]
