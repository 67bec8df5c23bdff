// Administration (admins only), one section per path /administration/<section>: users and
// their tokens, agent interfaces, pause reasons, which card fields agents see. Everything
// goes through the admin API; every change is audited there.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, formatTime, Header, html, problem, useLanguage } from "./console.js";

// [section, message key]: another area's admin page adds its one line here
export const SECTIONS = [
  ["users", "admin_users"],
  ["interfaces", "admin_interfaces"],
  ["pause-reasons", "admin_pause_reasons"],
  ["card-fields", "admin_card_fields"],
  ["webhooks", "admin_webhooks"],
  ["dispositions", "admin_dispositions"],
];
const KINDS = ["name", "phone", "email", "address", "identity_document", "date", "free_text"];

/** A request whose outcome the section reports in one line (role=status). */
function useAction(t) {
  const [note, setNote] = useState(null);
  async function run(path, options, done) {
    setNote(null);
    const response = await api(path, options);
    if (!response.ok) { setNote({ error: true, text: await problem(response, t) }); return null; }
    const body = response.status === 204 ? null : await response.json();
    if (done) setNote({ error: false, text: done(body) });
    return body ?? {};
  }
  const shown = note && html`<p class=${note.error ? "error" : "ok-text"} role=${note.error ? "alert" : "status"}
    data-testid="note">${note.text}</p>`;
  return [run, shown, setNote];
}

function useUsers() {
  const [users, setUsers] = useState(null);
  const load = async () => {
    const response = await api("/users");
    if (response.ok) setUsers(await response.json());
  };
  useEffect(() => { load(); }, []);
  return [users, load];
}

function Users({ t }) {
  const [users, reload] = useUsers();
  const [run, note] = useAction(t);
  const [secret, setSecret] = useState(null);
  const [resetting, setResetting] = useState(null);
  const [form, setForm] = useState({ username: "", role: "agent", password: "", agent_name: "",
    interface: "" });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });

  async function create(e) {
    e.preventDefault();
    const body = { username: form.username.trim(), role: form.role };
    for (const key of ["password", "agent_name", "interface"]) {
      if (form[key].trim()) body[key] = key === "password" ? form[key] : form[key].trim();
    }
    const made = await run("/users", { method: "POST", body }, (u) => t("user_created", { name: u.username }));
    if (made) {
      setSecret({ who: made.username, token: made.token });
      setForm({ ...form, username: "", password: "", agent_name: "", interface: "" });
      reload();
    }
  }
  async function act(user, path, options, message) {
    const body = await run(path, options, message);
    if (body && body.token) setSecret({ who: user.username, token: body.token });
    reload();
  }
  async function reset(e, user) {
    e.preventDefault();
    const password = new FormData(e.target).get("password");
    if (await run(`/users/${user.id}/password`, { method: "PUT", body: { password } },
      () => t("password_reset", { name: user.username }))) setResetting(null);
  }

  return html`<section class="panel" aria-labelledby="new-user">
      <h2 id="new-user">${t("new_user")}</h2>
      <form class="inline" onSubmit=${create} data-testid="new-user">
        <label>${t("username")}<input name="username" required value=${form.username} onInput=${set("username")} /></label>
        <label>${t("role")}<select name="role" value=${form.role} onChange=${set("role")}>
          ${["agent", "supervisor", "admin"].map((r) => html`<option value=${r} selected=${r === form.role}>${t(`role_${r}`)}</option>`)}
        </select></label>
        <label>${t("password")}<input name="password" type="password" autocomplete="new-password" value=${form.password} onInput=${set("password")} /></label>
        <label>${t("agent_name")}<input name="agent_name" value=${form.agent_name} onInput=${set("agent_name")} /></label>
        <label>${t("interface")}<input name="interface" placeholder="PJSIP/1001" value=${form.interface} onInput=${set("interface")} /></label>
        <button type="submit">${t("create")}</button>
      </form>
    </section>
    ${note}
    ${secret && html`<div class="panel" role="status" data-testid="secret">
      <p>${t("token_once", { name: secret.who })}</p><p class="secret">${secret.token}</p>
      <button type="button" onClick=${() => setSecret(null)}>${t("done")}</button></div>`}
    <section class="panel" aria-labelledby="users-h">
      <h2 id="users-h">${users ? t("users_count", { n: users.length }) : t("admin_users")}</h2>
      ${users && html`<div class="scroll"><table class="data" data-testid="users">
        <thead><tr><th>${t("username")}</th><th>${t("role")}</th><th>${t("agent_name")}</th>
          <th>${t("status")}</th><th>${t("actions")}</th></tr></thead>
        <tbody>${users.map((u) => html`<tr data-testid="user" data-username=${u.username} class=${u.active ? "" : "inactive"}>
          <td>${u.username}</td><td>${t(`role_${u.role}`)}</td><td>${u.agent_name || "—"}</td>
          <td>${u.active ? html`<span>✔ ${t("active")}</span>` : html`<span>⛔ ${t("inactive")}</span>`}</td>
          <td class="actions">
            <button type="button" onClick=${() => act(u, `/users/${u.id}/active`,
              { method: "PUT", body: { active: !u.active } },
              () => t(u.active ? "user_deactivated" : "user_activated", { name: u.username }))}>
              ${t(u.active ? "deactivate" : "activate")}</button>
            <button type="button" onClick=${() => setResetting(resetting === u.id ? null : u.id)}>${t("reset_password")}</button>
            <button type="button" onClick=${() => act(u, `/users/${u.id}/tokens`, { method: "POST" },
              () => t("token_made", { name: u.username }))}>${t("new_token")}</button>
            <button type="button" onClick=${() => act(u, `/users/${u.id}/tokens`, { method: "DELETE" },
              (r) => t("tokens_revoked", { name: u.username, n: r.api_tokens_deleted }))}>${t("revoke_tokens")}</button>
            ${resetting === u.id && html`<form class="inline" onSubmit=${(e) => reset(e, u)}>
              <label>${t("new_password")}<input name="password" type="password" minlength="8" required autocomplete="new-password" /></label>
              <button type="submit">${t("save")}</button></form>`}
          </td></tr>`)}</tbody>
      </table></div>`}
    </section>`;
}

function Interfaces({ t }) {
  const [users, reload] = useUsers();
  const [run, note] = useAction(t);
  async function save(e, user) {
    e.preventDefault();
    const data = new FormData(e.target);
    const value = (key) => (String(data.get(key) || "").trim() || null);
    if (await run(`/users/${user.id}/agent`, { method: "PUT", body: {
      agent_name: value("agent_name"), interface: value("interface"),
      outbound_callerid: value("outbound_callerid") } },
    () => t("saved_for", { name: user.username }))) reload();
  }
  return html`${note}<section class="panel" aria-labelledby="ifaces-h">
    <h2 id="ifaces-h">${t("admin_interfaces")}</h2>
    <p class="note">${t("interfaces_help")}</p>
    ${users && users.map((u) => html`<form class="inline row" onSubmit=${(e) => save(e, u)}
        data-testid="interface" data-username=${u.username} aria-label=${u.username}>
      <strong class="who">${u.username}</strong>
      <label>${t("agent_name")}<input name="agent_name" value=${u.agent_name || ""} /></label>
      <label>${t("interface")}<input name="interface" value=${u.interface || ""} placeholder="PJSIP/1001" /></label>
      <label>${t("outbound_callerid")}<input name="outbound_callerid" value=${u.outbound_callerid || ""} /></label>
      <button type="submit">${t("save")}</button>
    </form>`)}
  </section>`;
}

function PauseReasons({ t }) {
  const [state, setState] = useState(null);
  const [text, setText] = useState("");
  const [run, note] = useAction(t);
  const load = async () => {
    const response = await api("/admin/pause-reasons");
    if (!response.ok) return;
    const body = await response.json();
    setState(body);
    setText(body.reasons.join("\n"));
  };
  useEffect(() => { load(); }, []);
  async function save(e) {
    e.preventDefault();
    const reasons = text.split("\n").map((r) => r.trim()).filter(Boolean);
    const body = await run("/admin/pause-reasons", { method: "PUT", body: { reasons } },
      (r) => t("pause_reasons_saved", { n: r.reasons.length }));
    if (body) { setState(body); setText(body.reasons.join("\n")); }
  }
  return html`${note}<section class="panel" aria-labelledby="pause-h">
    <h2 id="pause-h">${t("admin_pause_reasons")}</h2>
    ${state && html`<p class="note" data-testid="pause-source">${t(state.configured ? "pause_from_db" : "pause_from_settings")}</p>
    <form onSubmit=${save}>
      <label class="stack">${t("pause_reasons_help")}
        <textarea name="reasons" rows="8" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></label>
      <button type="submit">${t("save")}</button>
    </form>`}
  </section>`;
}

function CardFields({ t }) {
  const [fields, setFields] = useState(null);
  const [notes, setNotes] = useState(false);
  const [name, setName] = useState("");
  const [run, note] = useAction(t);
  const load = async () => {
    const response = await api("/admin/card-fields");
    if (!response.ok) return;
    const body = await response.json();
    setFields(Object.entries(body.fields).map(([n, d]) => ({ name: n, ...d })));
    setNotes(body.notes_agent_visible);
  };
  useEffect(() => { load(); }, []);
  const change = (index, patch) => setFields(fields.map((f, i) => (i === index ? { ...f, ...patch } : f)));
  async function save(e) {
    e.preventDefault();
    const body = { fields: Object.fromEntries(fields.map((f) => [f.name,
      { kind: f.kind, agent_visible: f.agent_visible }])), notes_agent_visible: notes };
    if (await run("/admin/card-fields", { method: "PUT", body }, () => t("card_fields_saved"))) load();
  }
  return html`${note}<section class="panel" aria-labelledby="fields-h">
    <h2 id="fields-h">${t("admin_card_fields")}</h2>
    <p class="note">${t("card_fields_help")}</p>
    ${fields && html`<form onSubmit=${save}>
      <table class="data" data-testid="card-fields"><thead><tr><th>${t("field")}</th>
        <th>${t("kind")}</th><th>${t("agents_see_it")}</th><th></th></tr></thead>
        <tbody>${fields.map((f, i) => html`<tr data-testid="card-field" data-field=${f.name}>
          <td>${f.name}</td>
          <td><select aria-label=${`${t("kind")}: ${f.name}`} value=${f.kind}
            onChange=${(e) => change(i, { kind: e.target.value })}>
            ${KINDS.map((k) => html`<option value=${k} selected=${k === f.kind}>${t(`kind_${k}`)}</option>`)}</select></td>
          <td><input type="checkbox" aria-label=${`${t("agents_see_it")}: ${f.name}`}
            checked=${f.agent_visible} onChange=${(e) => change(i, { agent_visible: e.target.checked })} /></td>
          <td><button type="button" onClick=${() => setFields(fields.filter((_, j) => j !== i))}>${t("remove")}</button></td>
        </tr>`)}</tbody></table>
      <div class="inline">
        <label>${t("new_field")}<input name="new_field" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
        <button type="button" onClick=${() => { if (name.trim()) { setFields([...fields,
          { name: name.trim(), kind: "free_text", agent_visible: false }]); setName(""); } }}>${t("add")}</button>
      </div>
      <label class="check"><input type="checkbox" name="notes_agent_visible" checked=${notes}
        onChange=${(e) => setNotes(e.target.checked)} /> ${t("notes_agent_visible")}</label>
      <p><button type="submit">${t("save")}</button></p>
    </form>`}
  </section>`;
}

// ---- webhooks (CRM integration, branch hookui): subscriptions, deliveries, redelivery

const ROLES = ["agent", "supervisor", "admin"];
// a delivery's state, shown by colour, icon and text alike
const DELIVERY_ICON = { pending: "⏳", failing: "⚠", delivered: "✔", dead: "✖" };
const FILTERS = ["all", "failing", "dead", "pending", "delivered"];
const PAGE = 100;
// the confirmation replaces the button that had the focus: give it to "Cancel" (stable, so
// Preact calls it once, when the button appears)
const focusOnMount = (element) => element && element.focus();  // deliveries per request; "older" fetches the next page

function deliveryState(d) {
  return d.state === "pending" && d.attempts > 0 ? "failing" : d.state;
}

function Webhooks({ t, lang }) {
  const [subs, setSubs] = useState(null);
  const [types, setTypes] = useState([]);
  const [run, note] = useAction(t);
  const [secret, setSecret] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [form, setForm] = useState({ url: "", role: "supervisor", events: [], secret: "",
    allow_private: false, description: "" });
  const [filter, setFilter] = useState({ state: "all", subscription: "" });
  const [deliveries, setDeliveries] = useState(null);

  const load = async () => {
    const response = await api("/webhooks");
    if (response.ok) setSubs(await response.json());
  };
  const [more, setMore] = useState(false);
  const loadDeliveries = async (older = false) => {
    const offset = older && deliveries ? deliveries.length : 0;
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (filter.state === "failing") query.set("failing", "true");
    else if (filter.state !== "all") query.set("state", filter.state);
    if (filter.subscription) query.set("subscription_id", filter.subscription);
    const response = await api(`/webhooks/deliveries?${query}`);
    if (!response.ok) return;
    const page = await response.json();
    setDeliveries(offset ? [...deliveries, ...page] : page);
    setMore(page.length === PAGE);
  };
  useEffect(() => {
    load();
    api("/webhooks/catalogue").then(async (r) => {
      // the catalogue's keys are the event types with their first dot as "_"
      if (r.ok) setTypes(Object.keys(await r.json()).map((k) => k.replace("_", ".")));
    });
  }, []);
  useEffect(() => { loadDeliveries(); }, [filter.state, filter.subscription]);

  const set = (key) => (e) => setForm({ ...form, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const toggleEvent = (type) => setForm({ ...form, events: form.events.includes(type)
    ? form.events.filter((e) => e !== type) : [...form.events, type] });

  async function create(e) {
    e.preventDefault();
    if (!form.events.length) return;  // the button says why it is disabled
    const body = { url: form.url.trim(), role: form.role, events: form.events,
      allow_private: form.allow_private };
    if (form.secret) body.secret = form.secret;
    if (form.description.trim()) body.description = form.description.trim();
    const made = await run("/webhooks", { method: "POST", body },
      (s) => t("webhook_created", { url: s.url }));
    if (made) {
      // the secret is shown once; one the admin typed is theirs already
      if (!form.secret) setSecret({ url: made.url, secret: made.secret });
      setForm({ ...form, url: "", secret: "", description: "", allow_private: false });
      load();
    }
  }
  async function toggle(sub) {
    if (await run(`/webhooks/${sub.id}`, { method: "PATCH", body: { active: !sub.active } },
      () => t(sub.active ? "webhook_paused" : "webhook_resumed", { url: sub.url }))) load();
  }
  async function remove(sub) {
    if (await run(`/webhooks/${sub.id}`, { method: "DELETE" },
      () => t("webhook_deleted", { url: sub.url }))) {
      setDeleting(null);
      load();
      loadDeliveries();
    }
  }
  async function redeliverDead(sub) {
    if (await run(`/webhooks/${sub.id}/redeliver-dead`, { method: "POST" },
      (r) => t("webhook_redelivered_n", { n: r.redelivered }))) { load(); loadDeliveries(); }
  }
  async function redeliver(d) {
    if (await run(`/webhooks/deliveries/${d.id}/redeliver`, { method: "POST" },
      () => t("webhook_redelivered_one", { id: d.id }))) { load(); loadDeliveries(); }
  }
  const show = (sub, state) => setFilter({ state, subscription: String(sub.id) });
  const noEvents = form.events.length === 0;

  return html`<section class="panel" aria-labelledby="new-webhook">
      <h2 id="new-webhook">${t("new_webhook")}</h2>
      <form class="webhook-form" onSubmit=${create} data-testid="new-webhook">
        <label>${t("webhook_url")}<input name="url" type="url" required placeholder="https://crm.example.com/hooks"
          value=${form.url} onInput=${set("url")} /></label>
        <label>${t("webhook_role")}<select name="role" value=${form.role} onChange=${set("role")}>
          ${ROLES.map((r) => html`<option value=${r} selected=${r === form.role}>${t(`role_${r}`)}</option>`)}
        </select></label>
        <p class="note">${t("webhook_role_help")}</p>
        <fieldset class="events" data-testid="event-types">
          <legend>${t("webhook_events")}</legend>
          ${types.map((type) => html`<label class="check"><input type="checkbox" name="events" value=${type}
            checked=${form.events.includes(type)} onChange=${() => toggleEvent(type)} /> <code>${type}</code></label>`)}
          <button type="button" onClick=${() => setForm({ ...form, events: noEvents ? [...types] : [] })}>
            ${t(noEvents ? "webhook_events_all" : "webhook_events_none")}</button>
        </fieldset>
        <label>${t("webhook_secret")}<input name="secret" type="password" autocomplete="off" minlength="16"
          value=${form.secret} onInput=${set("secret")} aria-describedby="secret-help" /></label>
        <p class="note" id="secret-help">${t("webhook_secret_help")}</p>
        <label>${t("webhook_description")}<input name="description" maxlength="200"
          value=${form.description} onInput=${set("description")} /></label>
        <label class="check"><input type="checkbox" name="allow_private" checked=${form.allow_private}
          onChange=${set("allow_private")} aria-describedby="private-help" /> ${t("webhook_allow_private")}</label>
        <p class="note" id="private-help">${t("webhook_allow_private_help")}</p>
        ${noEvents && html`<p class="note" data-testid="choose-events">${t("webhook_choose_events")}</p>`}
        <p><button type="submit" disabled=${noEvents}>${t("create")}</button></p>
      </form>
    </section>
    ${note}
    ${secret && html`<div class="panel" role="status" data-testid="secret">
      <p>${t("webhook_secret_once", { url: secret.url })}</p><p class="secret">${secret.secret}</p>
      <button type="button" onClick=${() => setSecret(null)}>${t("done")}</button></div>`}
    <section class="panel" aria-labelledby="webhooks-h">
      <h2 id="webhooks-h">${subs ? t("webhooks_count", { n: subs.length }) : t("admin_webhooks")}</h2>
      ${subs && html`<div class="scroll"><table class="data" data-testid="webhooks">
        <thead><tr><th>${t("webhook_url")}</th><th>${t("webhook_events")}</th><th>${t("webhook_role")}</th>
          <th>${t("status")}</th><th>${t("webhook_problems")}</th><th>${t("actions")}</th></tr></thead>
        <tbody>${subs.map((s) => html`<tr data-testid="webhook" data-url=${s.url} class=${s.active ? "" : "inactive"}>
          <td><span class="url">${s.url}</span>${s.description && html`<br /><span class="note">${s.description}</span>`}
            ${s.allow_private && html`<br /><span class="badge private">${t("webhook_private_allowed")}</span>`}</td>
          <td>${s.events.map((e) => html`<code class="event">${e}</code> `)}</td>
          <td>${t(`role_${s.role}`)}</td>
          <td>${s.active ? html`<span class="state state-delivered">✔ ${t("webhook_active")}</span>`
            : html`<span class="state state-paused">⏸ ${t("webhook_paused_state")}</span>`}</td>
          <td>
            <button type="button" class=${`linkish state state-${s.failing ? "failing" : "none"}`} data-testid="failing"
              onClick=${() => show(s, "failing")}>${s.failing ? "⚠ " : ""}${t("webhook_failing_n", { n: s.failing })}</button><br />
            <button type="button" class=${`linkish state state-${s.dead ? "dead" : "none"}`} data-testid="dead"
              onClick=${() => show(s, "dead")}>${s.dead ? "✖ " : ""}${t("webhook_dead_n", { n: s.dead })}</button>
          </td>
          <td class="actions">
            <button type="button" onClick=${() => toggle(s)}>${t(s.active ? "pause_webhook" : "resume_webhook")}</button>
            ${s.dead > 0 && html`<button type="button" onClick=${() => redeliverDead(s)}>${t("webhook_redeliver_dead")}</button>`}
            ${deleting === s.id
              ? html`<span role="group" aria-label=${t("delete_webhook_confirm")}>${t("delete_webhook_confirm")}
                  <button type="button" class="danger" onClick=${() => remove(s)}>${t("webhook_delete")}</button>
                  <button type="button" ref=${focusOnMount} onClick=${() => setDeleting(null)}>${t("webhook_cancel")}</button></span>`
              : html`<button type="button" onClick=${() => setDeleting(s.id)}>${t("webhook_delete")}</button>`}
          </td></tr>`)}</tbody>
      </table></div>`}
    </section>
    <section class="panel" aria-labelledby="deliveries-h">
      <h2 id="deliveries-h">${t("webhook_deliveries")}</h2>
      <form class="inline" onSubmit=${(e) => { e.preventDefault(); loadDeliveries(); }} data-testid="delivery-filter">
        <label>${t("delivery_state")}<select name="state" value=${filter.state}
          onChange=${(e) => setFilter({ ...filter, state: e.target.value })}>
          ${FILTERS.map((f) => html`<option value=${f} selected=${f === filter.state}>${t(`delivery_filter_${f}`)}</option>`)}
        </select></label>
        <label>${t("webhook_subscription")}<select name="subscription" value=${filter.subscription}
          onChange=${(e) => setFilter({ ...filter, subscription: e.target.value })}>
          <option value="">${t("any")}</option>
          ${(subs || []).map((s) => html`<option value=${String(s.id)} selected=${String(s.id) === filter.subscription}>#${s.id} ${s.url}</option>`)}
        </select></label>
        <button type="submit">${t("deliveries_refresh")}</button>
      </form>
      ${deliveries && html`<p class="note" role="status" data-testid="deliveries-found">${t("webhook_deliveries_n", { n: deliveries.length })}</p>
      ${deliveries.length > 0 && html`<div class="scroll"><table class="data" data-testid="deliveries">
        <thead><tr><th>№</th><th>${t("webhook_subscription")}</th><th>${t("webhook_event")}</th>
          <th>${t("delivery_state")}</th><th>${t("delivery_attempts")}</th><th>${t("delivery_last_attempt")}</th>
          <th>${t("delivery_last_error")}</th><th>${t("actions")}</th></tr></thead>
        <tbody>${deliveries.map((d) => {
          const state = deliveryState(d);
          return html`<tr data-testid="delivery" data-id=${d.id} data-state=${state}>
          <td>${d.id}</td><td>#${d.subscription_id}</td>
          <td><code>${d.event_type || "—"}</code><br /><span class="note">${d.ordering_key}</span></td>
          <td><span class=${`state state-${state}`}>${DELIVERY_ICON[state]} ${t(`delivery_${state}`)}</span></td>
          <td>${d.attempts}</td>
          <td>${d.last_attempt_at ? formatTime(lang, d.last_attempt_at, true) : "—"}</td>
          <td class="last-error">${d.last_error || (d.last_status ? `HTTP ${d.last_status}` : "—")}</td>
          <td>${(state !== "pending") && html`<button type="button" onClick=${() => redeliver(d)}
            aria-label=${t("webhook_redeliver_label", { id: d.id })}>${t("webhook_redeliver")}</button>`}</td></tr>`;
        })}</tbody></table></div>`}
      ${more && html`<p><button type="button" onClick=${() => loadDeliveries(true)}>${t("deliveries_older")}</button></p>`}`}
    </section>`;
}

// ---- dispositions and wrap-up policy (branch dispadmin): one list per queue, project, or "*"

const NEW_DISPOSITION = { code: "", label: "", hotkey: "", is_success: false, closes_number: false,
  retry_after_minutes: "", active: true };
const numberOrNull = (value) => (String(value ?? "").trim() === "" ? null : Number(value));
const flag = (on) => (on ? "✔" : "—");

function Dispositions({ t }) {
  const [scope, setScope] = useState("queue");
  const [key, setKey] = useState("support");
  const [shown, setShown] = useState(null);  // the list on screen: { scope, key }
  const [items, setItems] = useState(null);
  const [policy, setPolicy] = useState({ required: false, seconds: 0, own: false });
  const [form, setForm] = useState(NEW_DISPOSITION);
  const [editing, setEditing] = useState(null);  // a copy of the row being edited
  const [deleting, setDeleting] = useState(null);
  const [known, setKnown] = useState({ queue: ["*"], project: [] });
  const [run, note, setNote] = useAction(t);

  // what to offer in the key field: lists and policies already kept, live queues, projects
  useEffect(() => {
    (async () => {
      const queues = new Set(["*"]);
      const projects = new Map();
      const [all, policies, live, prjs] = await Promise.all([api("/admin/dispositions"),
        api("/admin/wrapup-policies"), api("/queues"), api("/projects")]);
      for (const item of [...(all.ok ? await all.json() : []), ...(policies.ok ? await policies.json() : [])]) {
        if (item.scope === "queue") queues.add(item.scope_key);
        else projects.set(item.scope_key, item.scope_key);
      }
      if (live.ok) for (const q of await live.json()) queues.add(q.name ?? q.queue);
      if (prjs.ok) for (const p of await prjs.json()) projects.set(String(p.id), p.name);
      setKnown({ queue: [...queues].filter(Boolean).sort(),
        project: [...projects].map(([id, name]) => ({ id, name })) });
    })();
  }, []);

  async function load(s = shown?.scope, k = shown?.key) {
    const query = new URLSearchParams({ scope: s, key: k });
    // not through run(): a reload after a change keeps that change's message
    const [response, policies] = await Promise.all([api(`/admin/dispositions?${query}`),
      api("/admin/wrapup-policies")]);
    if (!response.ok) { setNote({ error: true, text: await problem(response, t) }); return; }
    const own = (policies.ok ? await policies.json() : []).find((p) => p.scope === s && p.scope_key === k);
    setItems(await response.json());
    setPolicy(own ? { required: own.required, seconds: own.seconds, own: true }
      : { required: false, seconds: 0, own: false });
    setShown({ scope: s, key: k });
    setEditing(null);
    setDeleting(null);
  }
  function open(e) {
    e.preventDefault();
    setNote(null);
    if (key.trim()) load(scope, key.trim());
  }
  const set = (name) => (e) => setForm({ ...form,
    [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const edit = (name) => (e) => setEditing({ ...editing,
    [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value });

  async function create(e) {
    e.preventDefault();
    const position = items.length ? Math.max(...items.map((d) => d.position)) + 10 : 10;
    const body = { scope: shown.scope, scope_key: shown.key, code: form.code.trim(),
      label: form.label.trim(), hotkey: numberOrNull(form.hotkey), is_success: form.is_success,
      closes_number: form.closes_number, retry_after_minutes: numberOrNull(form.retry_after_minutes),
      active: form.active, position };
    if (await run("/admin/dispositions", { method: "POST", body },
      (d) => t("disp_created", { code: d.code }))) {
      setForm(NEW_DISPOSITION);
      load();
    }
  }
  async function save(e) {
    e.preventDefault();
    const body = { label: editing.label.trim(), hotkey: numberOrNull(editing.hotkey),
      is_success: editing.is_success, closes_number: editing.closes_number,
      retry_after_minutes: numberOrNull(editing.retry_after_minutes), active: editing.active };
    if (await run(`/admin/dispositions/${editing.id}`, { method: "PATCH", body },
      (d) => t("disp_saved", { code: d.code }))) load();
  }
  async function remove(d) {
    if (await run(`/admin/dispositions/${d.id}`, { method: "DELETE" },
      () => t("disp_deleted", { code: d.code }))) load();
  }
  // moves a row one place: the list is renumbered 10, 20, ... and each changed row patched
  async function move(index, by) {
    const order = [...items];
    [order[index], order[index + by]] = [order[index + by], order[index]];
    const changed = order.map((d, i) => [d, (i + 1) * 10]).filter(([d, p]) => d.position !== p);
    for (const [d, position] of changed) {
      if (!await run(`/admin/dispositions/${d.id}`, { method: "PATCH", body: { position } })) return;
    }
    const moved = items[index];
    await load();
    setNote({ error: false, text: t("disp_moved", { code: moved.code, n: index + by + 1 }) });
    // the focus stays with the row moved: on the same arrow, or the other one at an end
    const arrows = [...document.querySelectorAll(
      `[data-testid=disposition][data-code="${moved.code}"] [data-move]`)].filter((a) => !a.disabled);
    (arrows.find((a) => a.dataset.move === String(by)) || arrows[0])?.focus();
  }
  async function savePolicy(e) {
    e.preventDefault();
    const body = { required: policy.required, seconds: Number(policy.seconds) || 0 };
    const path = `/admin/wrapup-policies/${shown.scope}/${encodeURIComponent(shown.key)}`;
    const saved = await run(path, { method: "PUT", body }, (p) => t("disp_policy_saved",
      { required: t(p.required ? "disp_yes" : "disp_no"), seconds: p.seconds }));
    if (saved) setPolicy({ required: saved.required, seconds: saved.seconds, own: true });
  }
  const listName = (s) => (s.key === "*" ? t("disp_default_list")
    : s.scope === "project" ? t("disp_project_list", { key: (known.project.find((p) => p.id === s.key) || {}).name || s.key })
      : t("disp_queue_list", { key: s.key }));
  // keyed by mode: an edited row is a new element, so the key that opened it cannot press
  // the button that takes the Edit button's place
  const row = (d, i) => (editing && editing.id === d.id
    ? html`<tr key=${`edit-${d.id}`} data-testid="disposition" data-code=${d.code} class="editing">
      <td><code>${d.code}</code></td>
      <td><input form="disp-edit" name="label" required maxlength="80" ref=${focusOnMount}
        aria-label=${`${t("disp_label")}: ${d.code}`} value=${editing.label} onInput=${edit("label")} /></td>
      <td><input form="disp-edit" name="hotkey" type="number" min="1" max="9" class="short"
        aria-label=${`${t("disp_hotkey")}: ${d.code}`} value=${editing.hotkey ?? ""} onInput=${edit("hotkey")} /></td>
      <td><input form="disp-edit" type="checkbox" name="is_success" checked=${editing.is_success}
        aria-label=${`${t("disp_success")}: ${d.code}`} onChange=${edit("is_success")} /></td>
      <td><input form="disp-edit" type="checkbox" name="closes_number" checked=${editing.closes_number}
        aria-label=${`${t("disp_closes")}: ${d.code}`} onChange=${edit("closes_number")} /></td>
      <td><input form="disp-edit" name="retry_after_minutes" type="number" min="0" class="short"
        aria-label=${`${t("disp_retry")}: ${d.code}`} value=${editing.retry_after_minutes ?? ""}
        onInput=${edit("retry_after_minutes")} /></td>
      <td><input form="disp-edit" type="checkbox" name="active" checked=${editing.active}
        aria-label=${`${t("disp_active")}: ${d.code}`} onChange=${edit("active")} /></td>
      <td class="actions"><button type="submit" form="disp-edit">${t("save")}</button>
        <button type="button" onClick=${() => setEditing(null)}>${t("webhook_cancel")}</button></td></tr>`
    : html`<tr key=${d.id} data-testid="disposition" data-code=${d.code} class=${d.active ? "" : "inactive"}>
      <td><code>${d.code}</code></td><td>${d.label}</td><td>${d.hotkey ?? "—"}</td>
      <td>${flag(d.is_success)}</td><td>${flag(d.closes_number)}</td>
      <td>${d.retry_after_minutes ?? "—"}</td>
      <td>${d.active ? t("disp_yes") : t("disp_no")}</td>
      <td class="actions">
        <button type="button" data-move="-1" disabled=${i === 0} aria-label=${t("disp_up_label", { code: d.code })}
          onClick=${() => move(i, -1)}>↑</button>
        <button type="button" data-move="1" disabled=${i === items.length - 1} aria-label=${t("disp_down_label", { code: d.code })}
          onClick=${() => move(i, 1)}>↓</button>
        <button type="button" aria-label=${t("disp_edit_label", { code: d.code })}
          onClick=${() => { setDeleting(null); setEditing({ ...d }); }}>${t("disp_edit")}</button>
        ${deleting === d.id
          ? html`<span role="group" aria-label=${t("disp_delete_confirm", { code: d.code })}>${t("disp_delete_confirm", { code: d.code })}
              <button type="button" class="danger" onClick=${() => remove(d)}>${t("webhook_delete")}</button>
              <button type="button" ref=${focusOnMount} onClick=${() => setDeleting(null)}>${t("webhook_cancel")}</button></span>`
          : html`<button type="button" aria-label=${t("disp_delete_label", { code: d.code })}
              onClick=${() => setDeleting(d.id)}>${t("webhook_delete")}</button>`}
      </td></tr>`);

  return html`<section class="panel" aria-labelledby="disp-h">
      <h2 id="disp-h">${t("admin_dispositions")}</h2>
      <p class="note">${t("disp_help")}</p>
      <form class="inline" onSubmit=${open} data-testid="disp-scope">
        <label>${t("disp_scope")}<select name="scope" value=${scope} onChange=${(e) => setScope(e.target.value)}>
          <option value="queue" selected=${scope === "queue"}>${t("disp_scope_queue")}</option>
          <option value="project" selected=${scope === "project"}>${t("disp_scope_project")}</option>
        </select></label>
        <label>${t(scope === "project" ? "disp_project_id" : "disp_queue")}<input name="key" required
          list="disp-keys" maxlength="80" value=${key}
          onInput=${(e) => setKey(e.target.value)} /></label>
        <datalist id="disp-keys">${scope === "queue"
          ? known.queue.map((q) => html`<option value=${q}>${q === "*" ? t("disp_default_list") : q}</option>`)
          : known.project.map((p) => html`<option value=${p.id}>${p.name}</option>`)}</datalist>
        <button type="submit">${t("disp_open")}</button>
      </form>
    </section>
    ${note}
    ${shown && items && html`<section class="panel" aria-labelledby="disp-list-h">
      <h2 id="disp-list-h" data-testid="disp-list">${listName(shown)}: ${t("disp_count", { n: items.length })}</h2>
      <form id="disp-edit" onSubmit=${save}></form>
      ${items.length > 0 && html`<div class="scroll"><table class="data" data-testid="dispositions">
        <thead><tr><th>${t("disp_code")}</th><th>${t("disp_label")}</th><th>${t("disp_hotkey")}</th>
          <th>${t("disp_success")}</th><th>${t("disp_closes")}</th><th>${t("disp_retry")}</th>
          <th>${t("disp_active")}</th><th>${t("actions")}</th></tr></thead>
        <tbody>${items.map(row)}</tbody></table></div>`}
      <h3>${t("disp_new")}</h3>
      <form class="inline" onSubmit=${create} data-testid="new-disposition">
        <label>${t("disp_code")}<input name="code" required maxlength="40"
          value=${form.code} onInput=${set("code")} /></label>
        <label>${t("disp_label")}<input name="label" required maxlength="80" value=${form.label}
          onInput=${set("label")} /></label>
        <label>${t("disp_hotkey")}<input name="hotkey" type="number" min="1" max="9" class="short"
          value=${form.hotkey} onInput=${set("hotkey")} /></label>
        <label>${t("disp_retry")}<input name="retry_after_minutes" type="number" min="0" class="short"
          value=${form.retry_after_minutes} onInput=${set("retry_after_minutes")} /></label>
        <label class="check"><input type="checkbox" name="is_success" checked=${form.is_success}
          onChange=${set("is_success")} /> ${t("disp_success")}</label>
        <label class="check"><input type="checkbox" name="closes_number" checked=${form.closes_number}
          onChange=${set("closes_number")} /> ${t("disp_closes")}</label>
        <label class="check"><input type="checkbox" name="active" checked=${form.active}
          onChange=${set("active")} /> ${t("disp_active")}</label>
        <button type="submit">${t("add")}</button>
      </form>
    </section>
    <section class="panel" aria-labelledby="disp-policy-h">
      <h2 id="disp-policy-h">${t("disp_policy", { list: listName(shown) })}</h2>
      <p class="note" data-testid="disp-policy-source">${t(policy.own ? "disp_policy_own" : "disp_policy_none")}</p>
      <form class="inline" onSubmit=${savePolicy} data-testid="disp-policy">
        <label class="check"><input type="checkbox" name="required" checked=${policy.required}
          onChange=${(e) => setPolicy({ ...policy, required: e.target.checked })} /> ${t("disp_required")}</label>
        <label>${t("disp_seconds")}<input name="seconds" type="number" min="0" max="3600" class="short"
          value=${policy.seconds} onInput=${(e) => setPolicy({ ...policy, seconds: e.target.value })} /></label>
        <button type="submit">${t("disp_save_policy")}</button>
      </form>
    </section>`}`;
}

const VIEWS = { users: Users, interfaces: Interfaces, "pause-reasons": PauseReasons,
  "card-fields": CardFields, webhooks: Webhooks, dispositions: Dispositions };

function Admin() {
  const [lang, t, choose] = useLanguage();
  const section = location.pathname.split("/")[2] || "users";
  const View = VIEWS[section] || Users;
  const title = t((SECTIONS.find(([s]) => s === section) || SECTIONS[0])[1]);
  document.title = `${t("nav_admin")}: ${title}`;
  return html`<${Header} title=${t("nav_admin")} lang=${lang} choose=${choose} t=${t} />
    <main class="page">
      <nav class="sub-nav" aria-label=${t("nav_admin")}>
        ${SECTIONS.map(([s, key]) => html`<a href=${`/administration/${s}`}
          aria-current=${s === section ? "page" : undefined}>${t(key)}</a>`)}
      </nav>
      <${View} t=${t} lang=${lang} />
    </main>`;
}

render(html`<${Admin} />`, document.getElementById("app"));
