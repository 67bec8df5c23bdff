// The agent desktop: the caller's card pops the moment the phone rings, pushed on /ws/agent
// (already shaped by the server's data policy for this agent).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  api, formatDuration, formatTime, Header, html, page, StaleBanner, useClock, useLanguage,
  useLiveSocket,
} from "./console.js";

const STATES = {
  offline: { icon: "✖", label: "state_offline" },
  logged_out: { icon: "○", label: "state_logged_out" },
  paused: { icon: "‖", label: "state_paused" },
  ready: { icon: "✔", label: "state_ready" },
  ringing: { icon: "☏", label: "state_ringing" },
  on_call: { icon: "☎", label: "state_on_call" },
};

function StatusBar({ state, since, now, t, reason }) {
  const { icon, label } = STATES[state];
  return html`<div class="status status-${state}" role="status" data-testid="status" data-state=${state}>
    <span class="icon" aria-hidden="true">${icon}</span>
    <span class="label">${t(label)}${reason ? `: ${reason}` : ""}</span>
    ${since && html`<span class="timer">${formatDuration((now - since) / 1000)}</span>`}
  </div>`;
}

function QueueLogin({ t, queues, changed }) {
  const [message, setMessage] = useState("");
  async function change(action, queue) {
    const response = await api("/agents/me", {
      method: "POST", body: action === "login" ? { action, queues: [queue] } : { action },
    });
    changed();
    if (response.ok) setMessage(action === "login" ? t("logged_in_to", { queue }) : t("logged_out"));
    else setMessage(t("failed", { status: response.status }) + " " + ((await response.json()).detail ?? ""));
  }
  function submit(event) {
    event.preventDefault();
    const queue = new FormData(event.target).get("queue").trim();
    if (queue) change("login", queue);
  }
  return html`<form class="queues" onSubmit=${submit}>
    <span data-testid="my-queues">${t("queues_label")}: ${queues.length ? queues.join(", ") : "—"}</span>
    <label>${t("queue")} <input name="queue" required maxlength="64" pattern="[A-Za-z0-9_.\\-]+" /></label>
    <button type="submit">${t("log_in_queue")}</button>
    <button type="button" onClick=${() => change("logout")}>${t("log_out_queue")}</button>
    <span class="note" role="status">${message}</span>
  </form>`;
}

/** Pause with a reason from the configured list, or resume. */
function PauseControl({ t, member, changed }) {
  const [error, setError] = useState("");
  async function send(body) {
    const response = await api("/agents/me", { method: "POST", body });
    setError(response.ok ? "" : t("failed", { status: response.status }));
    changed();
  }
  if (!member || !member.queues.length) return null;
  if (member.paused) {
    return html`<button type="button" data-testid="resume" onClick=${() => send({ action: "unpause" })}>▶ ${t("resume")}</button>`;
  }
  function submit(event) {
    event.preventDefault();
    send({ action: "pause", reason: new FormData(event.target).get("reason") });
  }
  return html`<form class="pause" onSubmit=${submit}>
    <label>${t("pause_reason")} <select name="reason" required data-testid="pause-reason">
      <option value="">—</option>
      ${member.pause_reasons.map((r) => html`<option value=${r}>${r}</option>`)}
    </select></label>
    <button type="submit">‖ ${t("pause")}</button>
    ${error && html`<span class="error" role="alert">${error}</span>`}
  </form>`;
}

/** Rings must be noticed in a background tab: the browser asks once, on the agent's click. */
function NotificationsButton({ t }) {
  const [permission, setPermission] = useState("Notification" in window ? Notification.permission : "denied");
  if (permission !== "default") return null;
  return html`<button type="button" onClick=${() => Notification.requestPermission().then(setPermission)}>
    ${t("enable_notifications")}</button>`;
}

function outcome(t, value) {
  const key = `outcome_${value}`;
  const text = t(key);
  return text === key ? value ?? "" : text;
}

function Card({ pop, lang, t, now }) {
  const { screenpop, queue, at } = pop;
  const contact = screenpop.contact;
  const calls = screenpop.last_calls;
  return html`<article class="card" data-testid="card" aria-live="assertive">
    <header>
      <h2 data-testid="caller-name">${contact ? contact.name ?? t("unknown_name") : t("new_caller")}</h2>
      ${contact && contact.vip && html`<span class="badge vip" data-testid="vip">★ ${t("vip")}</span>`}
      ${screenpop.new && html`<span class="badge new">${t("new_caller")}</span>`}
    </header>
    <p class="number">${screenpop.number}${queue ? html` · ${t("queue")}: ${queue}` : ""}</p>
    ${contact && Object.keys(contact.fields || {}).length > 0 && html`<dl class="fields">
      ${Object.entries(contact.fields).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
    </dl>`}
    ${contact && contact.notes && html`<p class="notes">${contact.notes}</p>`}
    ${screenpop.open_callbacks.length > 0 && html`<p class="callbacks">${t("open_callbacks", { n: screenpop.open_callbacks.length })}</p>`}
    <h3>${t("last_calls")}: <span data-testid="call-count">${t("calls", { n: calls.length })}</span></h3>
    ${calls.length === 0 ? html`<p>${t("no_calls")}</p>` : html`<table class="calls"><tbody>
      ${calls.map((c) => html`<tr>
        <td>${formatTime(lang, c.started_at, true)}</td><td>${c.queue ?? ""}</td>
        <td>${outcome(t, c.outcome)}</td><td>${c.agent ?? ""}</td>
        <td>${c.talk_seconds != null ? formatDuration(c.talk_seconds) : ""}</td></tr>`)}
    </tbody></table>`}
    <footer class="age" data-testid="card-age">${t("card_loaded", { time: formatTime(lang, at) })}${" · "}${t("updated_ago", { n: Math.max(0, Math.round((now - at) / 1000)) })}</footer>
  </article>`;
}

function Desktop() {
  const [lang, t, choose] = useLanguage();
  const now = useClock();
  const [call, setCall] = useState({ state: "ready", since: Date.now(), pop: null, note: "" });
  // the agent's queues and pause, as Asterisk has them: read on load and after each change
  const [member, setMember] = useState(null);
  const [pbxDown, setPbxDown] = useState(false);
  async function refresh() {
    const response = await api("/agents/me");
    const state = response.ok ? await response.json() : null;
    // when the state began, from the server's time in state (null: not known)
    if (state) state.since = state.state_seconds == null ? null : Date.now() - state.state_seconds * 1000;
    setMember(state);
    setPbxDown(response.status === 503);
  }
  useEffect(() => { if (page.hasPhone) refresh(); }, []);
  // opened by a softphone as /pop?number=…: that number's card, as the API lets this user see it
  useEffect(() => {
    if (!page.popNumber) return;
    api(`/screenpop?number=${encodeURIComponent(page.popNumber)}`).then(async (response) => {
      if (response.ok) {
        const screenpop = await response.json();
        setCall((c) => ({ ...c, note: "", pop: { screenpop, queue: null, at: Date.now() } }));
      } else {
        setCall((c) => ({ ...c, note: t(response.status === 404 ? "no_card" : "bad_number") }));
      }
    });
  }, []);
  document.title = t("title_desktop");
  const open = useLiveSocket(page.hasPhone ? "/ws/agent" : null, (message) => {
    const at = Date.now();
    if (message.type !== "ring") refresh();
    switch (message.type) {
      case "ring":
        setCall({ state: "ringing", since: at, linkedid: message.linkedid, note: "",
                  pop: { screenpop: message.screenpop, queue: message.queue, at } });
        if (document.hidden && "Notification" in window && Notification.permission === "granted") {
          const name = message.screenpop.contact?.name ?? message.screenpop.number;
          new Notification(t("state_ringing"), { body: name });
        }
        break;
      case "connected":
        setCall((c) => ({ ...c, state: "on_call", since: at }));
        break;
      case "answered_elsewhere":
        setCall((c) => ({ ...c, state: "ready", since: at, note: t("answered_elsewhere", { who: message.by || t("someone_else") }) }));
        break;
      case "ring_stopped":
        setCall((c) => ({ ...c, state: "ready", since: at, note: t(message.reason === "caller hung up" ? "caller_hung_up" : "not_answered") }));
        break;
      case "hangup":
        setCall((c) => ({ ...c, state: "ready", since: at, note: t(message.reason === "caller" ? "caller_hung_up" : "call_ended") }));
        break;
    }
  });
  let state = page.hasPhone && open && member ? call.state : "offline";
  if (state === "ready" && !member.queues.length) state = "logged_out";
  else if (state === "ready" && member.paused) state = "paused";
  return html`<${Header} title=${t("title_desktop")} lang=${lang} choose=${choose} t=${t} />
    <${StaleBanner} show=${page.hasPhone && !open} t=${t} />
    <${StaleBanner} show=${open && pbxDown} t=${t} message="asterisk_down" />
    <div class="bar">
      <${StatusBar} state=${state} now=${now} t=${t}
        since=${state === "offline" ? null
          : (state === "ringing" || state === "on_call") ? call.since : member.since ?? call.since}
        reason=${state === "paused" ? member.paused_reason : null} />
      ${page.hasPhone && html`<${QueueLogin} t=${t} queues=${member ? member.queues : []} changed=${refresh} />`}
      ${page.hasPhone && html`<${PauseControl} t=${t} member=${member} changed=${refresh} />`}
      ${page.hasPhone && html`<${NotificationsButton} t=${t} />`}
    </div>
    <main class="desk">
      ${call.note && html`<div class="banner info" role="alert" data-testid="call-note">${call.note}</div>`}
      ${call.pop ? html`<${Card} pop=${call.pop} lang=${lang} t=${t} now=${now} />`
        : !page.hasPhone ? html`<p class="message">${t("no_phone")}</p>`
        : html`<p class="message">${t("waiting_for_calls")}</p>`}
    </main>`;
}

render(html`<${Desktop} />`, document.getElementById("app"));
