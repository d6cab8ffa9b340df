"""The AMI actions of warm transfers and conferences (cti.sim.consult): ``Atxfer``, ``ConfbridgeKick``
and Redirect's ``ExtraChannel`` (main/manager.c, apps/app_confbridge.c texts)."""

from __future__ import annotations

from cti.asterisk.ami import Message
from cti.sim.channels import Channel
from cti.sim.legs import ActionError
from cti.sim.protocol import AmiSession, Headers


def _ok(message: str) -> Headers:
    return [("Response", "Success"), ("Message", message)]


def _err(message: str) -> Headers:
    return [("Response", "Error"), ("Message", message)]


def atxfer(s: AmiSession, m: Message) -> list[Headers]:
    name = m.get("Channel")
    if not name:
        return [_err("No channel specified")]
    exten = m.get("Exten")
    if not exten:
        return [_err("No extension specified")]
    ch = s.server.pbx.channels.find(name)
    if ch is None:
        return [_err("Channel specified does not exist")]
    context = m.get("Context") or ch.variable("TRANSFER_CONTEXT") or ch.context
    if m.get("Context"):
        s.server.pbx.set_var(ch, "TRANSFER_CONTEXT", context)
    # the feature code and the digits are queued on the channel; the bridge's hook acts on them
    s.server.pbx.later(0.0, s.server.pbx.atxfer, ch, context, exten)
    return [_ok("Atxfer successfully queued")]


def dual_redirect(s: AmiSession, m: Message, ch: Channel, prio: int) -> list[Headers]:
    """Redirect with ExtraChannel: both channels leave what they run (a bridge too) for their targets."""
    pbx = s.server.pbx
    extra_name = m.get("ExtraChannel") or ""
    extra = pbx.channels.find(extra_name)
    if extra is None:
        return [_err(f"ExtraChannel does not exist: {extra_name}")]
    context, exten = m.get("Context") or "", m.get("Exten") or ""
    try:
        extra_prio = int(m.get("ExtraPriority") or prio)
    except ValueError:
        return [_err("Invalid ExtraPriority")]
    try:
        pbx.redirect(ch, context, exten, prio)
    except ActionError as e:
        return [_err(str(e))]
    try:
        pbx.redirect(extra, m.get("ExtraContext") or context, m.get("ExtraExten") or exten, extra_prio)
    except ActionError:
        return [_err("Secondary redirect failed")]
    return [_ok("Dual Redirect successful")]


def confbridge_kick(s: AmiSession, m: Message) -> list[Headers]:
    room, channel = m.get("Conference"), m.get("Channel")
    if not room:
        return [_err("No Conference name provided.")]
    if not channel:
        return [_err("No channel name provided.")]
    try:
        s.server.pbx.conference_kick(room, channel)
    except ActionError as e:
        return [_err(str(e))]
    return [_ok("User kicked")]
