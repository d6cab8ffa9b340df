// The consoles' user-visible strings: one catalogue per language under /static/i18n/ (English and
// Simplified Chinese), chosen by the browser's language (navigator.languages), English as the fallback.
// Loaded before console.js; the catalogues call i18n.add(lang, {key: text}).
//   i18n.t("key", {name: value})  → the text, with {name} placeholders filled (values as plain text);
//   <el data-i18n="key">          → its textContent;  data-i18n-attr="aria-label:key;placeholder:key2"
//                                   → those attributes; i18n.apply(root) does both (run once at load).
// A key missing from the chosen language falls back to English, then to the key itself (so a missing
// string is visible, and tests/screenpop/test_i18n.py fails on it).
"use strict";

const i18n = (() => {
  const catalogues = {};
  const supported = ["en", "zh-CN"];

  function choose(languages) {
    for (const tag of languages || []) {
      const low = String(tag).toLowerCase();
      if (low.startsWith("zh")) return "zh-CN"; // zh, zh-CN, zh-Hans, zh-SG: Simplified Chinese
      if (low.startsWith("en")) return "en";
    }
    return "en";
  }

  let lang = choose(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);

  function add(language, entries) {
    catalogues[language] = Object.assign(catalogues[language] || {}, entries);
  }

  function t(key, params) {
    const own = catalogues[lang] || {};
    let text = key in own ? own[key] : (catalogues.en || {})[key];
    if (text === undefined) text = key;
    if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
    return text;
  }

  function apply(root) {
    const scope = root || document;
    for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of scope.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":").map((s) => s.trim());
        if (attr && key) node.setAttribute(attr, t(key));
      }
    }
    if (!root) document.documentElement.lang = lang === "zh-CN" ? "zh-CN" : "en";
  }

  function use(language) { if (supported.includes(language)) lang = language; }

  return { add, t, apply, use, choose, supported, get lang() { return lang; } };
})();

document.addEventListener("DOMContentLoaded", () => i18n.apply());
