// The consoles' user-visible strings: one catalogue per language under /static/i18n/ (English and
// Simplified Chinese), chosen by the browser's language (navigator.languages), English as the fallback.
// Loaded before console.js; the catalogues call i18n.add(lang, {key: text}).
//   i18n.t("key", {name: value})  → the text, with {name} placeholders filled (values as plain text);
//   <el data-i18n="key">          → its textContent;  data-i18n-attr="aria-label:key;placeholder:key2"
//                                   → those attributes; i18n.apply(root) does both (run once at load).
// A key missing from the chosen language falls back to English, then to the key itself (so a missing
// string is visible, and tests/screenpop/test_i18n.py fails on it).
//   i18n.tOr("key", fallback, params) → the text if the catalogue has the key, else ``fallback`` (an error
//                                   code the catalogue does not know yet: the server's own message);
//   i18n.word("state", value)      → a value the server sends as a word (a state, a pause reason, a
//                                   disposition): "state.<value>" (non-alphanumerics as "_"), else the value;
//   i18n.pct(ratio, digits), i18n.num(x) → numbers in the language's format (Intl); dates use
//                                   toLocaleString(i18n.lang); durations stay m:ss (cti.duration).
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

  const has = (key) => key in (catalogues[lang] || {}) || key in (catalogues.en || {});
  const tOr = (key, fallback, params) => (has(key) ? t(key, params) : fallback);
  const word = (kind, value) => {
    if (value === null || value === undefined || value === "") return "";
    return tOr(`${kind}.${String(value).replace(/[^A-Za-z0-9]+/g, "_")}`, String(value).replace(/_/g, " "));
  };
  const pct = (ratio, digits = 1) => (ratio === null || ratio === undefined ? "–"
    : new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(ratio));
  const num = (x) => new Intl.NumberFormat(lang).format(x);

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

  return { add, t, has, tOr, word, pct, num, apply, use, choose, supported, get lang() { return lang; } };
})();

document.addEventListener("DOMContentLoaded", () => i18n.apply());
