// Money in CNY and dates in the deployment's time zone, in the chosen language.
import { config } from "./config.js";
import { language } from "./i18n.js";

const locale = () => (language() === "zh" ? "zh-CN" : "en-GB");

export function money(amount) {
  if (amount === null || amount === undefined) return "—";
  // Amounts are decimal strings; Intl formats them without a float round trip where
  // the browser supports string input, and at most to the cent either way.
  return new Intl.NumberFormat("zh-CN", { style: "currency", currency: "CNY" }).format(amount);
}

export function dateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: config.timeZone,
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(iso));
}

export function percent(fraction) {
  if (fraction === null || fraction === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(
    fraction,
  );
}
