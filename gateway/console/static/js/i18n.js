// Chinese (default) and English. `t(key)` looks the text up; `label(kind, value)` names
// an enum value (stage, tier, ...). Missing keys show the key, so gaps are visible.
import { zh, en } from "./messages.js";

const KEY = "crm-lang";
const listeners = new Set();
const dictionaries = { zh, en };

export function language() {
  return localStorage.getItem(KEY) === "en" ? "en" : "zh";
}

export function setLanguage(code) {
  localStorage.setItem(KEY, code);
  document.documentElement.lang = code === "zh" ? "zh-CN" : "en";
  listeners.forEach((notify) => notify());
}

export function onLanguageChange(notify) {
  listeners.add(notify);
  return () => listeners.delete(notify);
}

export function t(key, values = {}) {
  const text = dictionaries[language()][key] ?? dictionaries.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

export function label(kind, value) {
  if (value === null || value === undefined) return "—";
  return dictionaries[language()].enums[kind]?.[value] ?? value;
}

// As `label`, with `fallback` where the language has no label for `value`.
export function labelOr(kind, value, fallback) {
  return dictionaries[language()].enums[kind]?.[value] ?? fallback;
}

export function enumValues(kind) {
  return Object.keys(zh.enums[kind]);
}
