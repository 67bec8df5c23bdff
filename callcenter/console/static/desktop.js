// The agent desktop: the caller's card pops the moment the phone rings, pushed on /ws/agent
// (already shaped by the server's data policy for this agent).
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api, formatDuration, formatTime, Header, html, page, StaleBanner, useClock, useLanguage,
  useLiveSocket,
} from "./console.js";
import { PreviewPanel, ScriptPanel } from "./script-panel.js";

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

/** Click-to-call (POST /calls): the agent's phone rings first, then the customer's. */
async function dial(number) {
  const response = await api("/calls", { method: "POST", body: { number } });
  if (response.ok) return { ok: true };
  const body = await response.json().catch(() => ({}));
  const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
  return { ok: false, status: response.status, detail: detail ?? "" };
}

/** A contact's number the policy masks, dialled by its last 4 digits (the server has it). */
async function dialContact(contactId, number) {
  const response = await api(`/contacts/${contactId}/call`, { method: "POST", body: { ending: number.slice(-4) } });
  if (response.ok) return { ok: true };
  const body = await response.json().catch(() => ({}));
  return { ok: false, status: response.status, detail: typeof body.detail === "string" ? body.detail : "" };
}

/** A number on screen, with a button to call it: in full through POST /calls, masked (a
 * contact's other numbers, for agents) through the contact. */
function NumberLink({ number, contactId, t, onDialled }) {
  const masked = !number || number.includes("*");
  if (masked && (!number || !contactId)) return html`<span>${number ?? ""}</span>`;
  async function click() { onDialled(masked ? await dialContact(contactId, number) : await dial(number), number); }
  return html`<span class="dialable">${number}
    <button type="button" class="small" data-testid="call-number" aria-label=${t("call_number", { number })}
      onClick=${click}>☎ ${t("call")}</button></span>`;
}

/** An own call's recording: a short-lived signed URL for the audio element. */
function Recording({ id, t }) {
  const [url, setUrl] = useState(null);
  const [failed, setFailed] = useState(false);
  async function load() {
    const response = await api(`/recordings/${id}/url`, { method: "POST" });
    if (response.ok) setUrl((await response.json()).url);
    else setFailed(true);
  }
  if (url) return html`<audio controls autoplay src=${url} data-testid="recording-audio" aria-label=${t("recording")}></audio>`;
  return html`<button type="button" class="small" data-testid="play" onClick=${load}
    aria-label=${t("play_recording")}>▶ ${failed ? t("unavailable") : t("play")}</button>`;
}

function ContactNotes({ contact, t }) {
  const [text, setText] = useState(contact.notes ?? "");
  const [message, setMessage] = useState("");
  useEffect(() => setText(contact.notes ?? ""), [contact.id]);
  async function save(event) {
    event.preventDefault();
    const response = await api(`/contacts/${contact.id}/notes`, { method: "PUT", body: { notes: text || null } });
    const body = await response.json().catch(() => ({}));
    if (response.ok) { setText(body.notes ?? ""); setMessage(t("saved")); }
    else setMessage(Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : t("failed", { status: response.status }));
  }
  return html`<form class="contact-notes" onSubmit=${save}>
    <label for="contact-notes">${t("contact_notes")}</label>
    <textarea id="contact-notes" data-testid="contact-notes" rows="2" maxlength="10000"
      value=${text} onInput=${(e) => { setText(e.target.value); setMessage(""); }}></textarea>
    <button type="submit" class="small">${t("save_notes")}</button>
    <span class="note" role="status">${message}</span>
  </form>`;
}

function Card({ pop, lang, t, now, onDialled }) {
  const { screenpop, queue, at } = pop;
  const contact = screenpop.contact;
  const calls = screenpop.last_calls;
  const callbacks = screenpop.open_callbacks;
  return html`<article class="card" data-testid="card" aria-live="assertive">
    <header>
      <h2 data-testid="caller-name">${contact ? contact.name ?? t("unknown_name") : t("new_caller")}</h2>
      ${contact && contact.vip && html`<span class="badge vip" data-testid="vip">★ ${t("vip")}</span>`}
      ${screenpop.new && html`<span class="badge new">${t("new_caller")}</span>`}
      ${screenpop.repeat_caller && html`<span class="badge repeat" data-testid="repeat">↻ ${t("repeat_caller", { n: screenpop.recent_calls })}</span>`}
    </header>
    <p class="number"><${NumberLink} number=${screenpop.number} t=${t} onDialled=${onDialled} />${queue ? html` · ${t("queue")}: ${queue}` : ""}</p>
    ${contact && contact.numbers.length > 1 && html`<p class="number">${t("other_numbers")}: ${contact.numbers
      .filter((n) => n.number !== screenpop.number)
      .map((n) => html`<${NumberLink} number=${n.number} contactId=${contact.id} t=${t} onDialled=${onDialled} />${n.label ? ` (${n.label})` : ""} `)}</p>`}
    ${contact && Object.keys(contact.fields || {}).length > 0 && html`<dl class="fields">
      ${Object.entries(contact.fields).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
    </dl>`}
    ${contact && "notes" in contact && html`<${ContactNotes} contact=${contact} t=${t} />`}
    ${callbacks.length > 0 && html`<div class="callbacks" data-testid="card-callbacks">
      <h3>${t("open_callbacks", { n: callbacks.length })}</h3>
      <ul>${callbacks.map((cb) => html`<li>${cb.due_at ? t("due_at", { time: formatTime(lang, cb.due_at, true) }) : formatTime(lang, cb.requested_at, true)}
        ${cb.queue ? ` · ${cb.queue}` : ""}${cb.assignee ? ` · ${cb.assignee}` : ` · ${t("team")}`}</li>`)}</ul>
    </div>`}
    <h3>${t("last_calls")}: <span data-testid="call-count">${t("calls", { n: calls.length })}</span></h3>
    ${calls.length === 0 ? html`<p>${t("no_calls")}</p>` : html`<table class="calls">
      <thead><tr><th scope="col">${t("when")}</th><th scope="col">${t("queue")}</th><th scope="col">${t("outcome")}</th>
        <th scope="col">${t("disposition")}</th><th scope="col">${t("agent")}</th><th scope="col">${t("talk")}</th><th scope="col">${t("recording")}</th></tr></thead>
      <tbody>
      ${calls.map((c) => html`<tr data-testid="last-call">
        <td>${formatTime(lang, c.started_at, true)}</td><td>${c.queue ?? ""}</td>
        <td>${outcome(t, c.outcome)}</td><td data-testid="last-call-disposition">${c.disposition ?? ""}</td><td>${c.agent ?? ""}</td>
        <td>${c.talk_seconds != null ? formatDuration(c.talk_seconds) : ""}</td>
        <td>${c.recordings.map((id) => html`<${Recording} id=${id} t=${t} />`)}</td></tr>`)}
    </tbody></table>`}
    <footer class="age" data-testid="card-age">${t("card_loaded", { time: formatTime(lang, at) })}${" · "}${t("updated_ago", { n: Math.max(0, Math.round((now - at) / 1000)) })}</footer>
  </article>`;
}

/** "YYYY-MM-DDTHH:MM" on the site's clock (what a datetime-local input holds) to UTC ISO. */
function siteTimeToUtc(value) {
  const [date, time] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = time.split(":").map(Number);
  const wanted = Date.UTC(y, mo - 1, d, h, mi);
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: page.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  });
  const offsetAt = (ms) => {
    const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute) - ms;
  };
  let utc = wanted - offsetAt(wanted);
  utc = wanted - offsetAt(utc);
  return new Date(utc).toISOString();
}

function siteTimeInput(ms) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: page.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

function errorText(body, t, status) {
  if (Array.isArray(body.detail)) return body.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
  return body.detail ?? t("failed", { status });
}

/**
 * After a call: a disposition from the call's list, its queue's or its project's (keys 1-9), a note, a callback (mine or
 * the team's); a countdown when the queue has a wrap-up time (from the server's figure).
 */
function WrapUp({ wrap, t, now, onDone, onLoaded }) {
  const [form, setForm] = useState(null);
  const [loadError, setLoadError] = useState("");
  const [code, setCode] = useState(null);
  const [note, setNote] = useState("");
  const [callback, setCallback] = useState(false);
  const [when, setWhen] = useState(() => siteTimeInput(Date.now() + 3600 * 1000));
  const [assignee, setAssignee] = useState("mine");
  const [error, setError] = useState("");
  const [saving, setSaving] = useState(false);
  const loadedAt = useRef(0);
  useEffect(() => {
    let stopped = false;
    // the call's record is written moments after the hang-up: asked again until it is
    async function load(attempt) {
      const response = await api(`/calls/${encodeURIComponent(wrap.linkedid)}/wrapup`);
      if (stopped) return;
      if (response.ok) {
        const body = await response.json();
        loadedAt.current = Date.now();
        setForm(body);
        onLoaded();
        if (body.wrapup) { setCode(body.wrapup.disposition_code); setNote(body.wrapup.note ?? ""); }
      } else if (response.status === 404 && attempt < 20) {
        setTimeout(() => load(attempt + 1), 500);
      } else {
        setLoadError(t("wrapup_unavailable"));
      }
    }
    load(0);
    return () => { stopped = true; };
  }, [wrap.linkedid]);
  // hotkeys 1-9 pick a disposition, unless the agent is typing
  useEffect(() => {
    if (!form) return undefined;
    function onKey(event) {
      const { tagName, type } = event.target;
      const typing = tagName === "TEXTAREA" || tagName === "SELECT"
        || (tagName === "INPUT" && type !== "radio" && type !== "checkbox");
      if (typing || event.ctrlKey || event.altKey || event.metaKey) return;
      const found = form.dispositions.find((d) => d.hotkey !== null && String(d.hotkey) === event.key);
      if (found) { setCode(found.code); event.preventDefault(); }
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [form]);
  async function save(event) {
    event.preventDefault();
    setSaving(true);
    const body = { code, note: note || null };
    if (callback) body.callback = { when: siteTimeToUtc(when), assignee };
    const response = await api(`/calls/${encodeURIComponent(wrap.linkedid)}/wrapup`, { method: "POST", body });
    setSaving(false);
    if (response.ok) onDone(await response.json());
    else setError(errorText(await response.json().catch(() => ({})), t, response.status));
  }
  if (loadError) return html`<section class="wrapup" aria-labelledby="wrapup-title"><h2 id="wrapup-title">${t("wrapup")}</h2><p class="error" role="alert">${loadError}</p>
    <button type="button" onClick=${() => onDone(null)}>${t("close")}</button></section>`;
  if (!form) return html`<section class="wrapup" aria-busy="true" aria-labelledby="wrapup-title"><h2 id="wrapup-title">${t("wrapup")}</h2><p>${t("loading")}</p></section>`;
  const left = form.seconds_left == null ? null : Math.max(0, form.seconds_left - (now - loadedAt.current) / 1000);
  return html`<section class="wrapup" data-testid="wrapup" aria-labelledby="wrapup-title">
    <h2 id="wrapup-title">${t("wrapup")}</h2>
    ${left !== null && html`<p class="countdown ${left === 0 ? "over" : ""}" role="timer" data-testid="countdown">
      ◷ ${left > 0 ? t("wrapup_left", { time: formatDuration(left) }) : t("wrapup_over")}</p>`}
    <form onSubmit=${save}>
      <fieldset class="dispositions">
        <legend>${t("disposition")}${form.policy.required ? ` (${t("required")})` : ""} · ${t("hotkeys_hint")}</legend>
        ${form.dispositions.length === 0 && html`<p class="note">${t("no_dispositions")}</p>`}
        ${form.dispositions.map((d) => html`<label class="disposition ${code === d.code ? "chosen" : ""}" data-testid="disposition" data-code=${d.code}>
          <input type="radio" name="code" value=${d.code} checked=${code === d.code} required=${form.policy.required}
            onChange=${() => setCode(d.code)} />
          ${d.hotkey !== null && html`<kbd>${d.hotkey}</kbd>`} ${d.label}</label>`)}
      </fieldset>
      <label for="wrapup-note">${t("wrapup_note")}</label>
      <textarea id="wrapup-note" data-testid="wrapup-note" rows="3" maxlength="2000" value=${note}
        onInput=${(e) => setNote(e.target.value)}></textarea>
      <div class="callback-row">
        <label><input type="checkbox" data-testid="schedule-callback" checked=${callback}
          onChange=${(e) => setCallback(e.target.checked)} /> ${t("schedule_callback")}</label>
        ${callback && html`<label>${t("callback_when")} <input type="datetime-local" data-testid="callback-when" required value=${when}
            onInput=${(e) => setWhen(e.target.value)} /></label>
          <label><input type="radio" name="assignee" value="mine" checked=${assignee === "mine"} onChange=${() => setAssignee("mine")} /> ${t("callback_mine")}</label>
          <label><input type="radio" name="assignee" value="team" checked=${assignee === "team"} onChange=${() => setAssignee("team")} /> ${t("callback_team")}</label>`}
      </div>
      ${error && html`<p class="error" role="alert" data-testid="wrapup-error">${error}</p>`}
      <button type="submit" data-testid="save-wrapup" disabled=${saving}>✔ ${t("save_wrapup")}</button>
    </form>
  </section>`;
}

/** A number typed by the agent, checked by the browser and then by the server (422). */
function DialBox({ t, onDialled }) {
  const [number, setNumber] = useState("");
  async function submit(event) {
    event.preventDefault();
    onDialled(await dial(number.trim()), number.trim());
  }
  return html`<form class="dialbox panel" onSubmit=${submit} aria-labelledby="dial-title">
    <h2 id="dial-title">${t("dial")}</h2>
    <label for="dial-number">${t("phone_number")}</label>
    <input id="dial-number" type="tel" data-testid="dial-number" required maxlength="40" inputmode="tel"
      pattern="\\+?[0-9 \\(\\)\\-]{3,40}" title=${t("dial_hint")} value=${number}
      onInput=${(e) => setNumber(e.target.value)} />
    <button type="submit" data-testid="dial">☎ ${t("call")}</button>
  </form>`;
}

/** Mine and my queues' team callbacks: due and overdue first, each one click from a call. */
function MyCallbacks({ t, lang, now, version, onDialled }) {
  const [items, setItems] = useState(null);
  async function load() {
    const response = await api("/callbacks?assigned=mine_and_team&limit=50");
    setItems(response.ok ? await response.json() : []);
  }
  useEffect(() => { load(); }, [version]);
  async function start(cb) {
    const response = await api(`/callbacks/${cb.id}/start`, { method: "POST" });
    const body = response.ok ? {} : await response.json().catch(() => ({}));
    onDialled(response.ok ? { ok: true } : { ok: false, status: response.status, detail: errorText(body, t, response.status) }, cb.number);
    load();
  }
  return html`<section class="panel my-callbacks" aria-labelledby="callbacks-title" data-testid="my-callbacks">
    <h2 id="callbacks-title">${t("my_callbacks")}</h2>
    ${items === null ? html`<p>${t("loading")}</p>` : items.length === 0 ? html`<p class="note">${t("no_callbacks")}</p>`
      : html`<ul>${items.map((cb) => {
        const due = cb.due_at ? Date.parse(cb.due_at) : null;
        const overdue = due !== null && due < now;
        return html`<li class=${overdue ? "overdue" : ""} data-testid="callback">
          ${overdue ? html`<span class="badge overdue">⚠ ${t("overdue")}</span>` : due !== null ? html`<span class="badge due">⏰ ${t("due")}</span>` : html`<span class="badge">${t("requested")}</span>`}
          <span>${formatTime(lang, cb.due_at ?? cb.requested_at, true)}</span>
          <span>${cb.number}</span><span>${cb.queue ?? ""}</span>
          <span>${cb.assignee ? t("callback_mine") : t("callback_team")}</span>
          <button type="button" class="small" data-testid="call-now" onClick=${() => start(cb)}>☎ ${t("call_now")}</button>
        </li>`;
      })}</ul>`}
  </section>`;
}

/** The agent's day: calls, handling time, pauses, and who waits in their queues. */
function Today({ t, version, live }) {
  const [day, setDay] = useState(null);
  useEffect(() => {
    api("/agents/me/today").then(async (r) => setDay(r.ok ? await r.json() : null));
  }, [version]);
  const queues = day && day.waiting ? day.waiting.map((q) => ({ ...q, waiting: live[q.queue] ?? q.waiting })) : null;
  if (!day) return null;
  const pauses = Object.entries(day.pause_seconds);
  const paused = pauses.reduce((sum, [, s]) => sum + s, 0);
  return html`<section class="panel today" aria-labelledby="today-title" data-testid="today">
    <h2 id="today-title">${t("today")}</h2>
    <dl class="fields">
      <dt>${t("my_calls")}</dt><dd data-testid="today-calls">${t("calls", { n: day.calls })}</dd>
      <dt>${t("aht")}</dt><dd>${day.average_handling_seconds == null ? "—" : formatDuration(day.average_handling_seconds)}</dd>
      <dt>${t("paused_total")}</dt><dd>${formatDuration(paused)}${pauses.length > 0 ? ` (${pauses.map(([r, s]) => `${r || "—"} ${formatDuration(s)}`).join(", ")})` : ""}</dd>
      <dt>${t("waiting_now")}</dt><dd data-testid="today-waiting">${day.waiting === null ? "—"
        : queues.length === 0 ? t("not_in_queue") : queues.map((q) => `${q.queue}: ${t("waiting", { n: q.waiting })}`).join("; ")}</dd>
    </dl>
  </section>`;
}

/** "Pause after this call": the reason chosen now, the pause sent the moment the call ends. */
function PauseAfter({ t, member, value, set }) {
  if (!member || !member.queues.length || member.paused) return null;
  return html`<div class="pause-after">
    <label><input type="checkbox" data-testid="pause-after" checked=${value !== null}
      onChange=${(e) => set(e.target.checked ? (member.pause_reasons[0] ?? "") : null)} /> ${t("pause_after_call")}</label>
    ${value !== null && member.pause_reasons.length > 0 && html`<label class="sr-only" for="pause-after-reason">${t("pause_reason")}</label>
      <select id="pause-after-reason" value=${value} onChange=${(e) => set(e.target.value)}>
      ${member.pause_reasons.map((r) => html`<option value=${r} selected=${r === value}>${r}</option>`)}</select>`}
  </div>`;
}

function Desktop() {
  const [lang, t, choose] = useLanguage();
  const now = useClock();
  const [call, setCall] = useState({ state: "ready", since: Date.now(), pop: null, note: "" });
  // the agent's queues and pause, as Asterisk has them: read on load and after each change
  const [member, setMember] = useState(null);
  const [pbxDown, setPbxDown] = useState(false);
  // the call to wrap up once it ends, the pause to take then, and a counter that makes the
  // panels read again (a call ended, a wrap-up saved)
  const [wrap, setWrap] = useState(null);
  // the call whose script is shown (outbound): a ringing call, or a preview call placed
  const [scriptCall, setScriptCall] = useState(null);
  const [pauseAfter, setPauseAfter] = useState(null);
  const pauseAfterRef = useRef(null);
  pauseAfterRef.current = pauseAfter;
  const [version, setVersion] = useState(0);
  const [dialMessage, setDialMessage] = useState("");
  // callers waiting per queue, as pushed since the today panel last read them
  const [waiting, setWaiting] = useState({});
  const connectedClickToCalls = useRef(new Set());
  function callEnded(linkedid) {
    setVersion((v) => v + 1);
    if (linkedid) setWrap({ linkedid });
    if (pauseAfterRef.current !== null) {
      const reason = pauseAfterRef.current;
      setPauseAfter(null);
      api("/agents/me", { method: "POST", body: reason ? { action: "pause", reason } : { action: "pause" } })
        .then(refresh);
    }
  }
  function dialled(result, number) {
    setDialMessage(result.ok ? t("dialling", { number }) : `${t("dial_failed")} ${result.detail ?? ""}`);
  }
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
    if (message.type !== "ring" && message.type !== "waiting") refresh();
    switch (message.type) {
      case "ring":
        setCall({ state: "ringing", since: at, linkedid: message.linkedid, note: "",
                  pop: { screenpop: message.screenpop, queue: message.queue, at } });
        setScriptCall({ linkedid: message.linkedid, queue: message.queue });
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
      case "waiting":  // a caller joined or left one of my queues
        setWaiting((w) => ({ ...w, [message.queue]: message.waiting }));
        break;
      case "state_changed":
        setVersion((v) => v + 1);
        break;
      case "hangup":
        setCall((c) => ({ ...c, state: "ready", since: at, note: t(message.reason === "caller" ? "caller_hung_up" : "call_ended") }));
        callEnded(message.linkedid);
        break;
      case "click_to_call":
        if (message.state === "connected") {
          connectedClickToCalls.current.add(message.call_id);
          setCall((c) => ({ ...c, state: "on_call", since: at, note: "" }));
        } else if (message.state === "ended") {
          setCall((c) => ({ ...c, state: "ready", since: at, note: t("call_ended") }));
          // only a call that connected has something to wrap up
          if (connectedClickToCalls.current.delete(message.call_id)) callEnded(message.call_id);
        } else if (message.state === "failed") setDialMessage(`${t("dial_failed")} ${message.reason ?? ""}`);
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
      ${page.hasPhone && html`<${PauseAfter} t=${t} member=${member} value=${pauseAfter} set=${setPauseAfter} />`}
      ${page.hasPhone && html`<${NotificationsButton} t=${t} />`}
    </div>
    <main class="desk">
      <div class="work">
        ${call.note && html`<div class="banner info" role="alert" data-testid="call-note">${call.note}</div>`}
        ${dialMessage && html`<div class="banner info" role="status" data-testid="dial-message">${dialMessage}</div>`}
        ${wrap && html`<${WrapUp} key=${wrap.linkedid} wrap=${wrap} t=${t} now=${now}
          onLoaded=${() => setVersion((v) => v + 1)} onDone=${(saved) => {
          setWrap(null); setVersion((v) => v + 1);
          if (saved) setCall((c) => ({ ...c, note: t("wrapup_saved") }));
        }} />`}
        ${scriptCall && html`<${ScriptPanel} key=${scriptCall.linkedid} linkedid=${scriptCall.linkedid} queue=${scriptCall.queue} t=${t} />`}
        ${call.pop ? html`<${Card} pop=${call.pop} lang=${lang} t=${t} now=${now} onDialled=${dialled} />`
          : !page.hasPhone ? html`<p class="message">${t("no_phone")}</p>`
          : html`<p class="message">${t("waiting_for_calls")}</p>`}
      </div>
      ${page.hasPhone && html`<aside class="side">
        <${Today} t=${t} version=${version} live=${waiting} />
        <${MyCallbacks} t=${t} lang=${lang} now=${now} version=${version} onDialled=${dialled} />
        <${DialBox} t=${t} onDialled=${dialled} />
        <${PreviewPanel} t=${t} onCalled=${(linkedid) => setScriptCall({ linkedid, queue: null })} />
      </aside>`}
    </main>`;
}

render(html`<${Desktop} />`, document.getElementById("app"));
