// English: the reference catalogue. Every key here has its Simplified Chinese twin in zh-CN.js.
// Keys are "page.thing" (common.*, agent.*, supervisor.*, campaigns.*, reports.*). Trailing commas kept,
// one entry per line, so additions merge cleanly.
i18n.add("en", {
  "common.login": "Log in",
  "common.user": "User",
  "common.password": "Password",
});
