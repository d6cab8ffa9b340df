// English: the reference catalogue. Every key here has its Simplified Chinese twin in zh-CN.js.
// Keys are "page.thing" (common.*, agent.*, supervisor.*, campaigns.*, reports.*). Trailing commas kept,
// one entry per line, so additions merge cleanly.
i18n.add("en", {
  "common.login": "Log in",
  "common.user": "User",
  "common.password": "Password",
  "agent.warm_transfer": "Warm transfer",
  "agent.consult_complete": "Complete",
  "agent.consult_cancel": "Cancel",
  "agent.consult_conference": "Conference",
  "agent.consulting": "consulting {target}: the customer hears music",
  "agent.consult_answered": "consulting {target}: talk, then complete, cancel or conference",
  "agent.consult_cancelling": "cancelling: back to the customer",
  "agent.consult_completing": "completing the transfer",
  "agent.consult_completed": "warm transfer to {target} completed",
  "agent.consult_over": "warm transfer over: back with the customer",
  "agent.conference": "Three-way conference",
  "agent.conference_parties": "conference parties",
  "agent.conference_leave": "Leave",
  "agent.conference_end": "End conference",
  "agent.conference_over": "you left the conference",
  "agent.left_call": "you left the call",
});
