"""The call tracker's public names, where the rest of cti imports them from. The code is the package
``cti.asterisk.tracker``; its module ``tracker`` opens with the theory of operation."""

from cti.asterisk.tracker import AgentView as AgentView
from cti.asterisk.tracker import CallTracker as CallTracker
from cti.asterisk.tracker import ChannelView as ChannelView
from cti.asterisk.tracker import classify_originate as classify_originate
from cti.asterisk.tracker import device_of as device_of
from cti.asterisk.tracker import interface_device as interface_device
from cti.asterisk.tracker.channels import RECENT_MEMORY as RECENT_MEMORY
from cti.asterisk.tracker.tracker import DEFAULT_DELIVER_CONTEXTS as DEFAULT_DELIVER_CONTEXTS
from cti.asterisk.tracker.tracker import DEFAULT_INBOUND_CONTEXTS as DEFAULT_INBOUND_CONTEXTS
