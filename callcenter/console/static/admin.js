// Administration (admins only), one section per path /administration/<section>: users and
// their tokens, agent interfaces, pause reasons, which card fields agents see. Everything
// goes through the admin API; every change is audited there.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, Header, html, problem, useLanguage } from "./console.js";

// [section, message key]: another area's admin page adds its one line here
export const SECTIONS = [
  ["users", "admin_users"],
  ["interfaces", "admin_interfaces"],
  ["pause-reasons", "admin_pause_reasons"],
  ["card-fields", "admin_card_fields"],
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

const VIEWS = { users: Users, interfaces: Interfaces, "pause-reasons": PauseReasons,
  "card-fields": CardFields };

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
      <${View} t=${t} />
    </main>`;
}

render(html`<${Admin} />`, document.getElementById("app"));
