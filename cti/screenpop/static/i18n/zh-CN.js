// 简体中文 (Simplified Chinese): the same keys as en.js.
i18n.add("zh-CN", {
  "common.login": "登录",
  "common.user": "用户名",
  "common.password": "密码",
});
