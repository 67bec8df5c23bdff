// Speech analytics: keyword search over transcripts (the player jumps to the moment), and for
// supervisors the QA side: flagged calls with filters, the review form, flags per agent and
// per phrase. What an agent may see is decided by the API (their own calls only; QA refused).
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api, formatDuration, formatTime, Header, html, page, problem, siteToIso, useLanguage,
} from "./console.js";
import { Player, recordingUrl } from "./player.js";

const SUPERVISES = page.role === "supervisor" || page.role === "admin";
const moment = (at) => (at == null ? "—" : formatDuration(at));

function params(values) {
  const found = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== "" && value != null) found.set(key, String(value).trim());
  }
  return found.toString();
}

function Search({ t, lang, play }) {
  const [q, setQ] = useState("");
  const [speaker, setSpeaker] = useState("");
  const [hits, setHits] = useState(null);
  const [error, setError] = useState("");
  async function search(e) {
    e.preventDefault();
    setError("");
    const response = await api(`/transcripts/search?${params({ q, speaker, limit: 100 })}`);
    if (!response.ok) { setError(await problem(response, t)); setHits(null); return; }
    setHits(await response.json());
  }
  return html`<section class="panel" aria-labelledby="search-title">
    <h2 id="search-title">${t("speech_search")}</h2>
    <form class="filters" onSubmit=${search} role="search" aria-label=${t("speech_search")}>
      <label>${t("speech_words")}
        <input name="q" type="search" value=${q} required maxlength="200"
          onInput=${(e) => setQ(e.target.value)} /></label>
      <label>${t("speaker")}
        <select name="speaker" value=${speaker} onChange=${(e) => setSpeaker(e.target.value)}>
          <option value="">${t("any")}</option>
          ${["agent", "customer", "mixed"].map((s) => html`<option value=${s}>${t(`speaker_${s}`)}</option>`)}
        </select></label>
      <div class="actions"><button type="submit">${t("search")}</button></div>
    </form>
    <p class="hint">${t("speech_search_help")}</p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${hits && html`<p data-testid="hits-found" aria-live="polite">${t("speech_hits", { n: hits.length })}</p>`}
    ${hits && hits.length > 0 && html`<div class="scroll"><table class="data" data-testid="hits">
      <thead><tr><th>${t("speech_call")}</th><th>${t("time")}</th><th>${t("agent")}</th>
        <th>${t("speaker")}</th><th>${t("speech_moment")}</th><th>${t("speech_snippet")}</th></tr></thead>
      <tbody>${hits.map((h) => html`<tr data-testid="hit" data-linkedid=${h.linkedid}
          data-speaker=${h.speaker}>
        <td>${h.linkedid}</td><td>${formatTime(lang, h.started_at, true)}</td>
        <td>${h.agent || "—"}</td><td data-testid="hit-speaker">${t(`speaker_${h.speaker}`)}</td>
        <td><button type="button" data-testid="hit-play" onClick=${() => play(h.recording_id,
          h.at_seconds, `${h.linkedid} · ${t(`speaker_${h.speaker}`)} · ${moment(h.at_seconds)}`)}
          aria-label=${t("speech_play_from", { at: moment(h.at_seconds), call: h.linkedid })}>
          ▶ ${moment(h.at_seconds)}</button></td>
        <td class="snippet">${h.snippet}</td>
      </tr>`)}</tbody></table></div>`}
  </section>`;
}

function reviewText(review, t) {
  if (!review || !review.reviewed) return t("qa_not_reviewed");
  const parts = [t("qa_reviewed_by", { name: review.reviewed_by })];
  if (review.score != null) parts.push(t("qa_score_is", { score: review.score }));
  if (review.exemplary) parts.push(`★ ${t("qa_exemplary")}`);
  return parts.join(" · ");
}

function ReviewForm({ flag, t, done, cancel }) {
  const review = flag.review || {};
  const [form, setForm] = useState({ reviewed: review.reviewed ?? true,
    score: review.score ?? "", exemplary: review.exemplary ?? false, note: review.note ?? "" });
  const [error, setError] = useState("");
  const first = useRef(null);
  useEffect(() => { if (first.current) first.current.focus(); }, [flag.linkedid]);
  async function save(e) {
    e.preventDefault();
    setError("");
    const body = { reviewed: form.reviewed, exemplary: form.exemplary,
      score: form.score === "" ? null : Number(form.score), note: form.note.trim() || null };
    const response = await api(`/qa/reviews/${encodeURIComponent(flag.linkedid)}`,
      { method: "PUT", body });
    if (!response.ok) { setError(await problem(response, t)); return; }
    done(flag.linkedid);
  }
  const check = (key) => (e) => setForm({ ...form, [key]: e.target.checked });
  return html`<form class="panel review" data-testid="review-form" onSubmit=${save}
      onKeyDown=${(e) => { if (e.key === "Escape") cancel(); }}
      aria-labelledby="review-title">
    <h3 id="review-title">${t("qa_review_of", { call: flag.linkedid })}</h3>
    <label class="check"><input ref=${first} type="checkbox" name="reviewed" checked=${form.reviewed}
      onChange=${check("reviewed")} /> ${t("qa_reviewed")}</label>
    <label>${t("qa_score")}
      <input type="number" name="score" min="0" max="100" step="1" value=${form.score}
        onInput=${(e) => setForm({ ...form, score: e.target.value })} /></label>
    <label class="check"><input type="checkbox" name="exemplary" checked=${form.exemplary}
      onChange=${check("exemplary")} /> ${t("qa_exemplary_long")}</label>
    <label>${t("qa_note")}
      <textarea name="note" rows="3" maxlength="2000" value=${form.note}
        onInput=${(e) => setForm({ ...form, note: e.target.value })}></textarea></label>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="actions"><button type="submit">${t("save")}</button>
      <button type="button" onClick=${cancel}>${t("cancel")}</button></div>
  </form>`;
}

function Flags({ t, lang, play, phrases, changed, phrase, setPhrase }) {
  const [filters, setFilters] = useState({ queue: "", agent: "", reviewed: "" });
  const [flags, setFlags] = useState(null);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const [reviewing, setReviewing] = useState(null);
  async function load() {
    setError("");
    const response = await api(`/qa/flags?${params({ ...filters, phrase, limit: 200 })}`);
    if (!response.ok) { setError(await problem(response, t)); setFlags(null); return; }
    setFlags(await response.json());
  }
  useEffect(() => { load(); }, [phrase]);
  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  async function reviewed(linkedid) {
    setReviewing(null);
    await load();
    setNote(t("qa_review_saved", { call: linkedid }));
    changed();
  }
  return html`<section class="panel" aria-labelledby="flags-title">
    <h2 id="flags-title">${t("qa_flags")}</h2>
    <form class="filters" aria-label=${t("filters")} onSubmit=${(e) => { e.preventDefault(); load(); }}>
      <label>${t("queue")}<input name="queue" value=${filters.queue} onInput=${set("queue")} /></label>
      <label>${t("agent")}<input name="agent" value=${filters.agent} onInput=${set("agent")} /></label>
      <label>${t("qa_phrase")}
        <select name="phrase" value=${phrase} onChange=${(e) => setPhrase(e.target.value)}>
          <option value="">${t("any")}</option>
          ${phrases.map((p) => html`<option value=${p}>${p}</option>`)}
        </select></label>
      <label>${t("qa_review_state")}
        <select name="reviewed" value=${filters.reviewed} onChange=${set("reviewed")}>
          <option value="">${t("any")}</option>
          <option value="false">${t("qa_not_reviewed")}</option>
          <option value="true">${t("qa_reviewed")}</option>
        </select></label>
      <div class="actions"><button type="submit">${t("show")}</button></div>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${note && html`<p class="note" role="status" data-testid="qa-note">${note}</p>`}
    ${reviewing && html`<${ReviewForm} key=${reviewing.linkedid} flag=${reviewing} t=${t}
      done=${reviewed} cancel=${() => setReviewing(null)} />`}
    ${flags && html`<p data-testid="flags-found" aria-live="polite">${t("qa_flags_count", { n: flags.length })}</p>`}
    ${flags && flags.length > 0 && html`<div class="scroll"><table class="data" data-testid="flags">
      <thead><tr><th>${t("qa_raised")}</th><th>${t("speech_call")}</th><th>${t("agent")}</th>
        <th>${t("queue")}</th><th>${t("qa_phrase")}</th><th>${t("speaker")}</th>
        <th>${t("speech_moment")}</th><th>${t("qa_said")}</th><th>${t("qa_review_state")}</th>
        <th>${t("actions")}</th></tr></thead>
      <tbody>${flags.map((f) => html`<tr data-testid="flag" data-linkedid=${f.linkedid} data-id=${f.id}>
        <td>${formatTime(lang, f.created_at, true)}</td><td>${f.linkedid}</td>
        <td>${f.agent || "—"}</td><td>${f.queue || "—"}</td>
        <td>${f.phrase} <span class="tag">${t(`qa_kind_${f.kind}`)}</span></td>
        <td>${t(`speaker_${f.speaker}`)}</td><td>${moment(f.at_seconds)}</td>
        <td class="snippet">${f.said || "—"}</td>
        <td data-testid="flag-review">${reviewText(f.review, t)}</td>
        <td class="recording">
          <button type="button" onClick=${() => play(f.recording_id, f.at_seconds,
            `${f.linkedid} · ${f.phrase} · ${moment(f.at_seconds)}`)}
            aria-label=${t("speech_play_from", { at: moment(f.at_seconds), call: f.linkedid })}>▶ ${t("play")}</button>
          <button type="button" data-testid="review" onClick=${() => { setNote(""); setReviewing(f); }}
            aria-label=${t("qa_review_call", { call: f.linkedid })}>${t("qa_review")}</button>
        </td>
      </tr>`)}</tbody></table></div>`}
  </section>`;
}

function Report({ t, report, period, setPeriod, load, pick }) {
  return html`<section class="panel" aria-labelledby="report-title" data-testid="qa-report">
    <h2 id="report-title">${t("qa_report")}</h2>
    <form class="filters" aria-label=${t("period")} onSubmit=${(e) => { e.preventDefault(); load(); }}>
      <label>${t("from")}<input name="report_since" type="datetime-local" value=${period.since}
        onInput=${(e) => setPeriod({ ...period, since: e.target.value })} /></label>
      <label>${t("to")}<input name="report_until" type="datetime-local" value=${period.until}
        onInput=${(e) => setPeriod({ ...period, until: e.target.value })} /></label>
      <div class="actions"><button type="submit">${t("show")}</button></div>
    </form>
    ${report && html`<div class="two-tables">
      <table class="data" data-testid="report-agents"><caption>${t("qa_by_agent")}</caption>
        <thead><tr><th>${t("agent")}</th><th>${t("qa_flags")}</th><th>${t("qa_calls")}</th>
          <th>${t("qa_forbidden_said")}</th><th>${t("qa_required_missing")}</th></tr></thead>
        <tbody>${report.by_agent.map((a) => html`<tr data-testid="report-agent" data-agent=${a.agent || ""}>
          <td>${a.agent || "—"}</td><td>${a.flags}</td><td>${a.calls}</td>
          <td>${a.forbidden}</td><td>${a.required_missing}</td></tr>`)}</tbody></table>
      <table class="data" data-testid="report-phrases"><caption>${t("qa_by_phrase")}</caption>
        <thead><tr><th>${t("qa_phrase")}</th><th>${t("kind")}</th><th>${t("qa_flags")}</th>
          <th>${t("qa_agents")}</th></tr></thead>
        <tbody>${report.by_phrase.map((p) => html`<tr data-testid="report-phrase" data-phrase=${p.phrase}>
          <td><button type="button" class="link" onClick=${() => pick(p.phrase)}
            aria-label=${t("qa_show_phrase", { phrase: p.phrase })}>${p.phrase}</button></td>
          <td>${t(`qa_kind_${p.kind}`)}</td><td>${t("qa_flags_count", { n: p.flags })}</td>
          <td>${p.agents}</td></tr>`)}</tbody></table>
    </div>`}
  </section>`;
}

function Speech() {
  const [lang, t, choose] = useLanguage();
  const [playing, setPlaying] = useState(null);
  const [error, setError] = useState("");
  const [report, setReport] = useState(null);
  const [period, setPeriod] = useState({ since: "", until: "" });
  const [phrase, setPhrase] = useState("");
  document.title = t("nav_speech");

  async function play(recordingId, at, label) {
    setError("");
    try {
      setPlaying({ url: await recordingUrl(recordingId, t), start: at || 0, label });
    } catch (e) { setError(e.message); }
  }
  async function loadReport() {
    const query = params({ since: period.since && siteToIso(period.since),
      until: period.until && siteToIso(period.until) });
    const response = await api(`/qa/report?${query}`);
    if (!response.ok) { setError(await problem(response, t)); return; }
    setReport(await response.json());
  }
  useEffect(() => { if (SUPERVISES) loadReport(); }, []);
  const phrases = report ? [...new Set(report.by_phrase.map((p) => p.phrase))] : [];
  return html`<${Header} title=${t("nav_speech")} lang=${lang} choose=${choose} t=${t} />
    <main class="page">
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <${Player} playing=${playing} t=${t} />
      <${Search} t=${t} lang=${lang} play=${play} />
      ${SUPERVISES && html`<${Flags} t=${t} lang=${lang} play=${play} phrases=${phrases}
        changed=${loadReport} phrase=${phrase} setPhrase=${setPhrase} />
        <${Report} t=${t} report=${report} period=${period} setPeriod=${setPeriod}
          load=${loadReport} pick=${(p) => { setPhrase(p); document.getElementById("flags-title").scrollIntoView(); }} />`}
    </main>`;
}

render(html`<${Speech} />`, document.getElementById("app"));
