// The audit log (GET /audit): who listened to, downloaded, read or changed what, and from
// where; filters and pages of 50, newest first.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  api, formatTime, Header, html, problem, siteDayRange, siteToIso, useLanguage,
} from "./console.js";

const PAGE = 50;

function Audit() {
  const [lang, t, choose] = useLanguage();
  const [since, until] = siteDayRange(6);
  const [filters, setFilters] = useState({ since, until, username: "", action: "",
    object_type: "" });
  const [offset, setOffset] = useState(0);
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  document.title = t("nav_audit");

  async function search(at = 0) {
    setError("");
    const params = new URLSearchParams({ limit: PAGE + 1, offset: at });
    if (filters.since) params.set("since", siteToIso(filters.since));
    if (filters.until) params.set("until", siteToIso(filters.until));
    for (const key of ["username", "action", "object_type"]) {
      if (filters[key].trim()) params.set(key, filters[key].trim());
    }
    const response = await api(`/audit?${params}`);
    if (!response.ok) { setError(await problem(response, t)); setResult(null); return; }
    const rows = await response.json();
    setOffset(at);
    setResult({ rows: rows.slice(0, PAGE), more: rows.length > PAGE });
  }
  useEffect(() => { search(0); }, []);
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  const field = (key, label, type = "text") => html`<label>${t(label)}
    <input name=${key} type=${type} value=${filters[key]} onInput=${set(key)} /></label>`;

  return html`<${Header} title=${t("nav_audit")} lang=${lang} choose=${choose} t=${t} />
    <main class="page">
      <form class="filters panel" aria-label=${t("filters")}
        onSubmit=${(e) => { e.preventDefault(); search(0); }}>
        ${field("since", "from", "datetime-local")}
        ${field("until", "to", "datetime-local")}
        ${field("username", "username")}
        ${field("action", "action")}
        ${field("object_type", "object_type")}
        <div class="actions"><button type="submit">${t("search")}</button></div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${result && html`<section class="panel">
        <p data-testid="found" aria-live="polite">${t(result.more ? "entries_shown_more" : "entries_shown",
          { n: result.rows.length, from: offset + 1 })}</p>
        <div class="scroll"><table class="data" data-testid="audit">
          <thead><tr><th>${t("when")}</th><th>${t("username")}</th><th>${t("action")}</th>
            <th>${t("object_type")}</th><th>${t("object_id")}</th><th>${t("client")}</th>
            <th>${t("details")}</th></tr></thead>
          <tbody>${result.rows.map((e) => html`<tr data-testid="entry">
            <td>${formatTime(lang, e.at, true)}</td><td>${e.username}</td><td>${e.action}</td>
            <td>${e.object_type}</td><td>${e.object_id ?? ""}</td><td>${e.client ?? ""}</td>
            <td>${e.details ?? ""}</td></tr>`)}</tbody>
        </table></div>
        <nav class="pager" aria-label=${t("pages")}>
          <button type="button" disabled=${offset === 0}
            onClick=${() => search(Math.max(0, offset - PAGE))}>← ${t("previous")}</button>
          <button type="button" disabled=${!result.more}
            onClick=${() => search(offset + PAGE)}>${t("next")} →</button>
        </nav>
      </section>`}
    </main>`;
}

render(html`<${Audit} />`, document.getElementById("app"));
