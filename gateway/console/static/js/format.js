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

// The deployment zone's offset from UTC at `instant`, in ms (Intl has no direct call).
function zoneOffset(instant) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: config.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(instant).map((p) => [p.type, Number(p.value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(instant.getTime() / 1000) * 1000;
}

// A <input type="datetime-local"> value ("2026-12-02T18:30[:05]") read as a wall time in
// the deployment's zone (not the browser's), as an ISO instant for the API.
export function zoneInputToIso(value) {
  if (!value) return null;
  const [day, time] = value.split("T");
  const [year, month, date] = day.split("-").map(Number);
  const [hour, minute, second = 0] = time.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, date, hour, minute, second);
  // Twice: the offset at the first guess may differ across a zone change.
  const guess = wall - zoneOffset(new Date(wall));
  return new Date(wall - zoneOffset(new Date(guess))).toISOString();
}

// The other way: an instant as a datetime-local value in the deployment's zone.
export function isoToZoneInput(iso) {
  if (!iso) return "";
  const instant = new Date(iso);
  return new Date(instant.getTime() + zoneOffset(instant)).toISOString().slice(0, 19);
}
