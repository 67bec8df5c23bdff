// The live supervisor console: queue tiles coloured by each queue's thresholds, the agent grid
// with actions (pause, resume, log out, add to / remove from a queue, listen / whisper / barge),
// waiting callers, today's abandoned calls one click from a callback. Pushed on /ws/supervisor.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, formatDuration, formatTime, Header, html, page, StaleBanner, useLanguage } from "./console.js";
import { Ages, AGENT_STATES, memberState, queueGrades, since, stateIcon, Tile, usePicture } from "./queue-tiles.js";

const isAdmin = page.role === "admin";
const hasPhone = page.hasPhone === "1";

/** One row per agent (a member of several queues appears once), with time in state now. */
function agentsOf(members, serverNow) {
  return Object.values(members).map((m) => ({ ...m, state_seconds: since(m.state_since, serverNow) }));
}

/** A beep (Web Audio, no file) when a queue turns red, if its targets ask for it. */
function useRedAlarm(picture, serverNow, enabled) {
  const red = useRef(new Set());
  useEffect(() => {
    if (!picture) return;
    const now = new Set(picture.queues.filter((q) => {
      const targets = picture.figures?.targets?.[q.queue];
      return targets?.sound_on_red && queueGrades(q, picture.figures?.today?.[q.queue], targets, serverNow).worst === "red";
    }).map((q) => q.queue));
    const fresh = [...now].some((q) => !red.current.has(q));
    red.current = now;
    if (fresh && enabled) beep();
  });
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  } catch { /* no audio device: the colour, icon and text still say it */ }
}

function AgentGrid({ agents, reasons, t, lang, act }) {
  const [sort, setSort] = useState({ key: "name", dir: 1 });
  const [filter, setFilter] = useState("");
  const [stateFilter, setStateFilter] = useState("");
  const key = {
    name: (a) => a.name.toLowerCase(), state: (a) => memberState(a),
    time: (a) => a.state_seconds ?? -1, calls: (a) => a.today?.calls ?? 0,
    missed: (a) => a.today?.missed ?? 0, aht: (a) => a.today?.aht ?? -1,
  };
  const shown = agents
    .filter((a) => !stateFilter || memberState(a) === stateFilter)
    .filter((a) => !filter || `${a.name} ${a.username || ""} ${a.queues.join(" ")}`.toLowerCase().includes(filter.toLowerCase()))
    .sort((a, b) => (key[sort.key](a) > key[sort.key](b) ? 1 : key[sort.key](a) < key[sort.key](b) ? -1 : 0) * sort.dir);
  const th = (k, label) => html`<th aria-sort=${sort.key === k ? (sort.dir > 0 ? "ascending" : "descending") : "none"}>
    <button type="button" class="sort" onClick=${() => setSort({ key: k, dir: sort.key === k ? -sort.dir : 1 })}>${t(label)}${sort.key === k ? (sort.dir > 0 ? " ▲" : " ▼") : ""}</button></th>`;
  return html`<section class="panel" aria-labelledby="agents-h">
    <h2 id="agents-h">${t("agent_grid")}</h2>
    <div class="filters">
      <label>${t("filter")} <input type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} data-testid="agent-filter" /></label>
      <label>${t("state")} <select value=${stateFilter} onChange=${(e) => setStateFilter(e.target.value)} data-testid="state-filter">
        <option value="">${t("all_states")}</option>
        ${AGENT_STATES.map(([s]) => html`<option value=${s}>${t(`state_${s}`)}</option>`)}
      </select></label>
    </div>
    <table class="grid" data-testid="agent-grid"><thead><tr>
      ${th("name", "agent")}${th("state", "state")}${th("time", "in_state")}<th>${t("queues_label")}</th><th>${t("current_call")}</th>
      ${th("calls", "calls_today")}${th("missed", "missed")}${th("aht", "aht")}<th>${t("actions")}</th></tr></thead><tbody>
      ${shown.map((a) => html`<${AgentRow} key=${a.interface} a=${a} reasons=${reasons} t=${t} lang=${lang} act=${act} />`)}
    </tbody></table>
    ${shown.length === 0 && html`<p class="message">${t("no_agents")}</p>`}
  </section>`;
}

function AgentRow({ a, reasons, t, act }) {
  const state = memberState(a);
  const [reason, setReason] = useState(reasons[0] || "");
  const [queue, setQueue] = useState("");
  const who = a.username;
  const caller = a.on_call ? [a.talking_to_name, a.talking_to].filter(Boolean).join(" · ") : "";
  return html`<tr class="agent-row" data-testid="agent-row" data-agent=${a.name} data-state=${state}>
    <td><strong>${a.name}</strong></td>
    <td class="agent-${state}" data-testid="agent-state"><span aria-hidden="true">${stateIcon(state)}</span> ${t(`state_${state}`)}${a.paused_reason ? `: ${a.paused_reason}` : ""}</td>
    <td data-testid="agent-time">${a.state_seconds == null ? "" : formatDuration(a.state_seconds)}</td>
    <td>${a.queues.map((q) => html`<span class="chip">${q}${who && html` <button type="button" class="mini" aria-label=${t("remove_from", { queue: q })}
        onClick=${() => act(who, { action: "logout", queues: [q] }, t("removed_from", { agent: a.name, queue: q }))}>×</button>`}</span>`)}</td>
    <td data-testid="agent-call">${caller}</td>
    <td>${a.today?.calls ?? 0}</td><td>${a.today?.missed ?? 0}</td>
    <td>${a.today?.aht == null ? "—" : formatDuration(a.today.aht)}</td>
    <td class="actions">${who ? html`
      ${a.paused
        ? html`<button type="button" data-testid="resume-agent" onClick=${() => act(who, { action: "unpause" }, t("resumed", { agent: a.name }))}>${t("resume")}</button>`
        : html`<select aria-label=${t("pause_reason")} value=${reason} onChange=${(e) => setReason(e.target.value)} data-testid="agent-reason">
            ${reasons.map((r) => html`<option value=${r}>${r}</option>`)}</select>
          <button type="button" data-testid="pause-agent" onClick=${() => act(who, { action: "pause", reason: reason || undefined }, t("paused_agent", { agent: a.name }))}>${t("pause")}</button>`}
      <button type="button" data-testid="logout-agent" onClick=${() => act(who, { action: "logout" }, t("logged_out_agent", { agent: a.name }))}>${t("log_out_agent")}</button>
      <form class="add-queue" onSubmit=${(e) => { e.preventDefault(); if (queue) act(who, { action: "login", queues: [queue] }, t("added_to", { agent: a.name, queue })); }}>
        <input aria-label=${t("add_to_queue")} placeholder=${t("queue")} value=${queue} onInput=${(e) => setQueue(e.target.value)} size="7" />
        <button type="submit">${t("add")}</button></form>
      ${a.on_call && ["listen", "whisper", "barge"].map((mode) => html`<button type="button" data-testid=${`spy-${mode}`} disabled=${!hasPhone}
          title=${hasPhone ? "" : t("no_phone_spy")} onClick=${() => act(who, { mode }, t(`spy_${mode}_started`, { agent: a.name }), "spy")}>${t(`spy_${mode}`)}</button>`)}
    ` : html`<span class="note">${t("no_user")}</span>`}</td>
  </tr>`;
}

function Waiting({ queues, serverNow, t }) {
  const callers = queues.flatMap((q) => q.callers.map((c) => ({ ...c, queue: q.queue })))
    .sort((a, b) => a.joined_at - b.joined_at);
  return html`<section class="panel" aria-labelledby="waiting-h">
    <h2 id="waiting-h">${t("waiting_callers")} <span class="count">${callers.length}</span></h2>
    ${callers.length === 0 ? html`<p class="message">${t("nobody_waiting")}</p>` : html`<table class="callers"><thead><tr>
      <th>${t("queue")}</th><th>${t("position")}</th><th>${t("caller")}</th><th>${t("wait")}</th></tr></thead><tbody>
      ${callers.map((c) => html`<tr data-testid="caller" data-queue=${c.queue}><td>${c.queue}</td><td>${c.position}</td>
        <td>${c.name && c.name !== c.number ? `${c.name} · ` : ""}${c.number}</td>
        <td>${formatDuration(since(c.joined_at, serverNow))}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function AbandonedList({ calls, t, lang, notify }) {
  async function callBack(call) {
    if (call.callback_status === "open" && hasPhone) {
      const r = await api(`/callbacks/${call.callback_id}/start`, { method: "POST" });
      notify(r.ok ? t("calling_back", { number: call.number }) : t("failed", { status: r.status }), !r.ok);
      return;
    }
    const r = await api(`/supervisor/abandoned/${encodeURIComponent(call.linkedid)}/callback`, { method: "POST" });
    notify(r.ok ? t("callback_opened", { number: call.number }) : t("failed", { status: r.status }), !r.ok);
  }
  const status = (c) => (c.recovered ? "recovered" : c.callback_status ? `callback_${c.callback_status}` : "callback_none");
  return html`<section class="panel" aria-labelledby="abandoned-h">
    <h2 id="abandoned-h">${t("abandoned_today")} <span class="count">${calls.length}</span></h2>
    ${calls.length === 0 ? html`<p class="message">${t("no_abandoned")}</p>` : html`<table class="abandoned"><thead><tr>
      <th>${t("time")}</th><th>${t("caller")}</th><th>${t("queue")}</th><th>${t("wait")}</th><th>${t("status")}</th><th>${t("actions")}</th></tr></thead><tbody>
      ${calls.map((c) => html`<tr data-testid="abandoned-call" data-linkedid=${c.linkedid}>
        <td>${formatTime(lang, c.at)}</td><td>${c.name ? `${c.name} · ` : ""}${c.number || ""}</td><td>${c.queue || ""}</td>
        <td>${c.wait_seconds == null ? "" : formatDuration(c.wait_seconds)}</td>
        <td class=${`cb-${status(c)}`} data-testid="callback-status">${t(status(c))}</td>
        <td>${c.number && !c.recovered && html`<button type="button" data-testid="call-back" onClick=${() => callBack(c)}>
          ${c.callback_status === "open" && hasPhone ? t("call_back_now") : c.callback_status === "open" ? t("callback_exists") : t("open_callback")}</button>`}</td></tr>`)}
    </tbody></table>`}
  </section>`;
}

const TARGET_FIELDS = [
  ["service_level_seconds", 1], ["service_level_target", 0.1], ["waiting_amber", 1], ["waiting_red", 1],
  ["longest_wait_amber", 1], ["longest_wait_red", 1], ["service_level_amber", 0.1], ["service_level_red", 0.1],
  ["abandoned_amber", 0.1], ["abandoned_red", 0.1],
];

function TargetsForm({ picture, t, notify }) {
  const queues = Object.keys(picture.figures?.targets || {});
  const [queue, setQueue] = useState("");
  const [values, setValues] = useState(null);
  const chosen = queue || queues[0] || "";
  const current = values && values.queue === chosen ? values : { queue: chosen, ...(picture.figures?.targets?.[chosen] || {}) };
  if (!chosen) return null;
  async function save(e) {
    e.preventDefault();
    const body = Object.fromEntries(TARGET_FIELDS.map(([k]) => [k, Number(current[k])]));
    body.sound_on_red = Boolean(current.sound_on_red);
    const r = await api(`/supervisor/targets/${encodeURIComponent(chosen)}`, { method: "PUT", body });
    if (r.ok) { notify(t("targets_saved", { queue: chosen })); setValues(null); return; }
    const detail = r.status === 422 ? (await r.json()).detail.map((d) => d.msg).join("; ") : r.status;
    notify(t("failed", { status: detail }), true);
  }
  const set = (k, v) => setValues({ ...current, [k]: v });
  return html`<details class="panel targets" data-testid="targets-form"><summary><h2>${t("targets_title")}</h2></summary>
    <form onSubmit=${save}>
      <label>${t("queue")} <select value=${chosen} onChange=${(e) => { setQueue(e.target.value); setValues(null); }} data-testid="targets-queue">
        ${queues.map((q) => html`<option value=${q}>${q}</option>`)}</select></label>
      ${TARGET_FIELDS.map(([k, step]) => html`<label>${t(`t_${k}`)} <input type="number" min="0" step=${step} name=${k} value=${current[k]} onInput=${(e) => set(k, e.target.value)} /></label>`)}
      <label class="check"><input type="checkbox" name="sound_on_red" checked=${current.sound_on_red} onChange=${(e) => set("sound_on_red", e.target.checked)} /> ${t("t_sound_on_red")}</label>
      <button type="submit">${t("save")}</button>
    </form></details>`;
}

function Supervisor() {
  const [lang, t, choose] = useLanguage();
  const { picture, age, stale, serverNow } = usePicture("/ws/supervisor");
  const [note, setNote] = useState(null);
  const [sound, setSound] = useState(false);
  document.title = t("title_supervisor");
  useRedAlarm(picture, serverNow, sound);
  const notify = (text, error = false) => setNote({ text, error });
  async function act(username, body, done, kind = "state") {
    const path = kind === "spy" ? `/agents/${encodeURIComponent(username)}/spy` : `/agents/${encodeURIComponent(username)}`;
    const r = await api(path, { method: "POST", body });
    if (r.ok) { notify(done); return; }
    let detail = String(r.status);
    try { const b = await r.json(); detail = typeof b.detail === "string" ? b.detail : b.detail.map((d) => d.msg).join("; "); } catch { /* not JSON */ }
    notify(t("failed", { status: detail }), true);
  }
  const queues = picture ? picture.queues : [];
  return html`<${Header} title=${t("title_supervisor")} lang=${lang} choose=${choose} t=${t} />
    <${StaleBanner} show=${stale} t=${t} />
    <${StaleBanner} show=${picture && !picture.asterisk} t=${t} message="asterisk_down" />
    <div class="toolbar">
      <${Ages} picture=${picture} age=${age} serverNow=${serverNow} t=${t} />
      <button type="button" aria-pressed=${sound} onClick=${() => { setSound(!sound); if (!sound) beep(); }} data-testid="sound">
        <span aria-hidden="true">${sound ? "♪" : "✕"}</span> ${t(sound ? "sound_on" : "sound_off")}</button>
      <a href="/wallboard" class="link">${t("tv_mode")}</a>
    </div>
    ${note && html`<p class=${`banner ${note.error ? "stale" : "info"}`} role="status" data-testid="action-note">${note.text}</p>`}
    <main class="supervisor">
      <div class="tiles">
        ${picture && queues.length === 0 && html`<p class="message">${t("no_queues")}</p>`}
        ${queues.map((q) => html`<${Tile} queue=${q} today=${picture.figures?.today?.[q.queue]} targets=${picture.figures?.targets?.[q.queue]} serverNow=${serverNow} t=${t} />`)}
      </div>
      ${picture && html`<${AgentGrid} agents=${agentsOf(picture.members, serverNow)} reasons=${picture.figures?.pause_reasons || []} t=${t} lang=${lang} act=${act} />
        <div class="columns">
          <${Waiting} queues=${queues} serverNow=${serverNow} t=${t} />
          <${AbandonedList} calls=${picture.figures?.abandoned || []} t=${t} lang=${lang} notify=${notify} />
        </div>
        ${isAdmin && html`<${TargetsForm} picture=${picture} t=${t} notify=${notify} />`}`}
    </main>`;
}

render(html`<${Supervisor} />`, document.getElementById("app"));
