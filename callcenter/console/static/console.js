// What every page shares: the API with the session cookie and its CSRF token, WebSockets
// opened with a single-use ticket, the language switch, times in the site's time zone.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { LANGUAGES, translator } from "./i18n.js";

export const html = htm.bind(h);
export const page = document.body.dataset;

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

/** fetch() on our API: cookies sent, the CSRF token on everything that changes state. */
export async function api(path, { method = "GET", body, toSignIn = true } = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("cc_csrf");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && toSignIn) location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
  return response;
}

/** The language in use and a setter that remembers it (cookie, read by the server too). */
export function useLanguage() {
  const [lang, setLang] = useState(document.documentElement.lang in LANGUAGES
    ? document.documentElement.lang : "en");
  const choose = (next) => {
    document.cookie = `cc_lang=${next}; path=/; max-age=31536000; samesite=strict`;
    document.documentElement.lang = next;
    setLang(next);
  };
  return [lang, translator(lang), choose];
}

export function LanguageSwitch({ lang, choose, t }) {
  return html`<label class="lang">${t("language")}
    <select value=${lang} onChange=${(e) => choose(e.target.value)} data-testid="language">
      ${Object.entries(LANGUAGES).map(([code, name]) =>
        html`<option value=${code} selected=${code === lang}>${name}</option>`)}
    </select></label>`;
}

export function formatTime(lang, value, withDate = false) {
  const options = { timeZone: page.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(options, { day: "2-digit", month: "2-digit", year: "numeric" });
  return new Intl.DateTimeFormat(lang, options).format(new Date(value));
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

export async function signOut() {
  await api("/auth/session", { method: "DELETE" });
  location.assign("/signin");
}

// The top navigation shared by every page: [path, message key, lowest role that may open it].
// A page of another area adds its one line here; the server still decides who may open it.
export const NAV = [
  ["/desktop", "nav_desktop", "agent"],
  ["/supervisor", "nav_supervisor", "supervisor"],
  ["/wallboard", "nav_wallboard", "supervisor"],
  ["/call-search", "nav_calls", "supervisor"],
  ["/reports", "nav_reports", "supervisor"],
  ["/project-progress", "nav_projects", "supervisor"],
  ["/audit-log", "nav_audit", "supervisor"],
  ["/speech", "nav_speech", "agent"],
  ["/administration/users", "nav_admin", "admin"],
];
const LEVEL = { agent: 1, supervisor: 2, admin: 3 };

/** The links this role may follow (none when there would be only one: nowhere to go). */
export function Nav({ t }) {
  const level = LEVEL[page.role] || 0;
  const links = NAV.filter(([, , role]) => level >= LEVEL[role]);
  if (links.length < 2) return null;
  const here = location.pathname;
  return html`<nav class="top-nav" aria-label=${t("nav_label")}><ul>
    ${links.map(([path, key]) => {
      const current = here === path || (path.startsWith("/administration/") && here.startsWith("/administration/"));
      return html`<li><a href=${path} aria-current=${current ? "page" : undefined}
        data-testid=${`nav-${path.split("/")[1]}`}>${t(key)}</a></li>`;
    })}
  </ul></nav>`;
}

export function Header({ title, lang, choose, t }) {
  return html`<header class="top">
    <h1>${title}</h1>
    <${Nav} t=${t} />
    <span class="who">${page.agent || page.username}</span>
    <${LanguageSwitch} lang=${lang} choose=${choose} t=${t} />
    <button type="button" onClick=${signOut}>${t("sign_out")}</button>
  </header>`;
}

/** Re-renders every second; what it shows is computed from timestamps, not from ticks. */
export function useClock() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/**
 * A WebSocket to `path` (/ws/agent, /ws/supervisor), opened with a fresh single-use ticket
 * and reopened after a drop (1 s, 2 s, … 15 s). `onMessage` gets each parsed message;
 * the hook returns whether the socket is open now.
 */
export function useLiveSocket(path, onMessage) {
  const [open, setOpen] = useState(false);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    if (!path) return undefined;
    let socket = null;
    let retry = null;
    let delay = 1000;
    let stopped = false;
    async function connect() {
      let ticket;
      if (path.includes("?token=")) {  // a wall display's own token: no session, no ticket
        open_(path);
        return;
      }
      try {
        const response = await api("/auth/ws-ticket", { method: "POST" });
        if (!response.ok) throw new Error(String(response.status));
        ticket = (await response.json()).ticket;
      } catch {
        schedule();
        return;
      }
      open_(`${path}?ticket=${encodeURIComponent(ticket)}`);
    }
    function open_(target) {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}${target}`);
      socket.onopen = () => { delay = 1000; setOpen(true); };
      socket.onmessage = (event) => handler.current(JSON.parse(event.data));
      socket.onclose = () => { setOpen(false); schedule(); };
    }
    function schedule() {
      if (stopped) return;
      retry = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    }
    connect();
    return () => { stopped = true; clearTimeout(retry); if (socket) socket.close(); };
  }, [path]);
  return open;
}

export function StaleBanner({ show, t, message = "stale" }) {
  return show ? html`<div class="banner stale" role="alert" data-testid="stale">⚠ ${t(message)}</div>` : null;
}

// reports: wall-clock times in the site's zone (period pickers of the calls, reports and
// audit pages): what a supervisor types means the site's time, whatever the browser's zone.
function zoneOffsetMs(date) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: page.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute,
    +parts.second);
  return asUtc - Math.floor(date.getTime() / 1000) * 1000;
}

/** "2026-11-20T10:00" (a datetime-local value) in the site's zone -> ISO 8601 in UTC. */
export function siteToIso(local) {
  const guess = new Date(`${local.length === 10 ? `${local}T00:00` : local}:00Z`);
  let utc = new Date(guess.getTime() - zoneOffsetMs(guess));
  const again = zoneOffsetMs(utc); // across a DST change the offset at the result differs
  utc = new Date(guess.getTime() - again);
  return utc.toISOString();
}

/** A moment as a datetime-local value ("2026-11-20T10:00") in the site's zone. */
export function isoToSite(value) {
  const date = new Date(value);
  return new Date(date.getTime() + zoneOffsetMs(date)).toISOString().slice(0, 16);
}

/** From midnight `back` days ago to midnight tonight, in the site's zone (datetime-local). */
export function siteDayRange(back = 0) {
  const today = isoToSite(new Date().toISOString()).slice(0, 10);
  const start = new Date(`${today}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - back);
  const end = new Date(`${today}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1);
  return [start.toISOString().slice(0, 16), end.toISOString().slice(0, 16)];
}

/** A message for a refused request: the API's 422 names the field. */
export async function problem(response, t) {
  let detail = "";
  try {
    const body = await response.json();
    detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
      : String(body.detail ?? "");
  } catch { /* not JSON */ }
  return `${t("failed", { status: response.status })} ${detail}`.trim();
}

let uplotLoaded = null;
/** uPlot ships as a classic script (its minified build): loaded once, by the pages with charts. */
export function loadUplot() {
  if (!uplotLoaded) {
    uplotLoaded = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = "/static/vendor/uplot/uPlot.min.css";
      document.head.append(css);
      const script = document.createElement("script");
      script.src = "/static/vendor/uplot/uPlot.iife.min.js";
      script.onload = () => resolve(window.uPlot);
      script.onerror = reject;
      document.head.append(script);
    });
  }
  return uplotLoaded;
}
