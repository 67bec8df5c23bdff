// Calls: search with the API's filters (GET /calls), the recordings' player (a signed URL,
// so the <audio> element can seek with Range requests), download and CSV export.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  api, formatDuration, formatTime, Header, html, problem, siteDayRange, siteToIso, useLanguage,
} from "./console.js";
import { Player, recordingUrl } from "./player.js";

const PAGE = 50;
export const OUTCOMES = ["answered", "abandoned", "timeout", "no_agent", "busy", "failed",
  "transferred", "voicemail", "callback_requested", "closed"];

function query(filters, extra = {}) {
  const params = new URLSearchParams();
  if (filters.since) params.set("since", siteToIso(filters.since));
  if (filters.until) params.set("until", siteToIso(filters.until));
  for (const key of ["number", "agent", "queue", "outcome", "min_talk", "max_talk"]) {
    if (filters[key] !== "") params.set(key, filters[key].trim());
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params.toString();
}

function Calls() {
  const [lang, t, choose] = useLanguage();
  const [since, until] = siteDayRange(6);
  const [filters, setFilters] = useState({ since, until, number: "", agent: "", queue: "",
    outcome: "", min_talk: "", max_talk: "" });
  const [offset, setOffset] = useState(0);
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  const [playing, setPlaying] = useState(null);
  document.title = t("nav_calls");

  async function search(at = 0) {
    setError("");
    const response = await api(`/calls?${query(filters, { limit: PAGE + 1, offset: at })}`);
    if (!response.ok) { setError(await problem(response, t)); setResult(null); return; }
    const rows = await response.json();
    setOffset(at);
    setResult({ rows: rows.slice(0, PAGE), more: rows.length > PAGE });
  }
  useEffect(() => { search(0); }, []);

  async function play(call, recording) {
    let url;
    try { url = await recordingUrl(recording.id, t); } catch (e) { setError(e.message); return; }
    setPlaying({ url, label: `${formatTime(lang, call.started_at, true)} · ${call.caller || "—"} → ${
      call.agent || call.called || "—"}` });
  }
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  const field = (key, label, type = "text", extra = {}) => html`<label>${t(label)}
    <input name=${key} type=${type} value=${filters[key]} onInput=${set(key)} ...${extra} /></label>`;

  return html`<${Header} title=${t("nav_calls")} lang=${lang} choose=${choose} t=${t} />
    <main class="page">
      <form class="filters panel" onSubmit=${(e) => { e.preventDefault(); search(0); }}
        aria-label=${t("filters")}>
        ${field("since", "from", "datetime-local")}
        ${field("until", "to", "datetime-local")}
        ${field("number", "number", "tel", { autocomplete: "off" })}
        ${field("agent", "agent")}
        ${field("queue", "queue")}
        <label>${t("outcome")}
          <select name="outcome" value=${filters.outcome} onChange=${set("outcome")}>
            <option value="">${t("any")}</option>
            ${OUTCOMES.map((o) => html`<option value=${o}>${t(`outcome_${o}`)}</option>`)}
          </select></label>
        ${field("min_talk", "min_talk", "number", { min: 0 })}
        ${field("max_talk", "max_talk", "number", { min: 0 })}
        <div class="actions">
          <button type="submit">${t("search")}</button>
          <a class="button" href=${`/calls?${query(filters, { format: "csv" })}`} download="calls.csv"
            data-testid="export">${t("export_csv")}</a>
        </div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <${Player} playing=${playing} t=${t} />
      ${result && html`<section class="panel">
        <p data-testid="found" aria-live="polite">${t(result.more ? "calls_shown_more" : "calls_shown",
          { n: result.rows.length, from: offset + 1 })}</p>
        <div class="scroll"><table class="data" data-testid="calls">
          <thead><tr><th>${t("started")}</th><th>${t("direction")}</th><th>${t("caller")}</th>
            <th>${t("called")}</th><th>${t("queue")}</th><th>${t("agent")}</th>
            <th>${t("wait")}</th><th>${t("talk")}</th><th>${t("outcome")}</th>
            <th>${t("recording")}</th></tr></thead>
          <tbody>${result.rows.map((c) => html`<tr data-testid="call" data-linkedid=${c.linkedid}>
            <td>${formatTime(lang, c.started_at, true)}</td>
            <td>${t(`direction_${c.direction}`)}</td>
            <td>${c.caller_name ? `${c.caller_name} · ` : ""}${c.caller || "—"}</td>
            <td>${c.called || "—"}</td><td>${c.queue || "—"}</td><td>${c.agent || "—"}</td>
            <td>${c.wait_seconds == null ? "—" : formatDuration(c.wait_seconds)}</td>
            <td>${c.talk_seconds == null ? "—" : formatDuration(c.talk_seconds)}</td>
            <td>${t(`outcome_${c.outcome}`)}</td>
            <td class="recordings">${c.recordings.map((r) => html`<span class="recording">
              <button type="button" onClick=${() => play(c, r)} data-testid="play"
                aria-label=${`${t("play")} ${formatTime(lang, c.started_at, true)}`}>▶ ${t("play")}</button>
              <a href=${`/recordings/${r.id}`} download data-testid="download"
                aria-label=${`${t("download")} ${formatTime(lang, c.started_at, true)}`}>⤓ ${t("download")}</a>
            </span>`)}</td>
          </tr>`)}</tbody>
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

render(html`<${Calls} />`, document.getElementById("app"));
