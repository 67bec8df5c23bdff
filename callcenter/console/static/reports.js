// Reports over any period: queue calls per interval (answered / abandoned) and the service
// level per interval as charts (uPlot: small, fast canvas charts) with the same figures as a
// table, and the per-agent table. Everything is aggregated by the server (GET /reports/...).
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api, formatDuration, formatTime, Header, html, loadUplot, page, problem, siteDayRange,
  siteToIso, useLanguage,
} from "./console.js";

const COLOURS = { answered: "#1a7f37", abandoned: "#b42318", service_level: "#0b4fa8" };

function dateNames(lang) {
  const names = (options, count, make) => Array.from({ length: count }, (_, i) =>
    new Intl.DateTimeFormat(lang, { timeZone: "UTC", ...options }).format(make(i)));
  const month = (i) => new Date(Date.UTC(2026, i, 1));
  const weekday = (i) => new Date(Date.UTC(2026, 10, 1 + i)); // 1 Nov 2026 is a Sunday
  return {
    MMMM: names({ month: "long" }, 12, month), MMM: names({ month: "short" }, 12, month),
    WWWW: names({ weekday: "long" }, 7, weekday), WWW: names({ weekday: "short" }, 7, weekday),
  };
}

/** One uPlot chart: x in Unix seconds, shown on the site's clock. */
/** Time axis labels on the site's clock, 24-hour, dates in the page's language. */
function timeLabels(lang) {
  const hours = new Intl.DateTimeFormat(lang, { timeZone: page.timeZone, hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" });
  const days = new Intl.DateTimeFormat(lang, { timeZone: page.timeZone, day: "2-digit",
    month: "2-digit" });
  return (u, splits) => {
    const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map((ts) => (span > 2 * 86400 ? days : hours).format(new Date(ts * 1000)));
  };
}

function Chart({ label, series, data, lang, testid, yRange, t }) {
  const box = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    loadUplot().then((uPlot) => {
      if (gone || !box.current) return;
      const names = dateNames(lang);
      chart = new uPlot({
        width: Math.max(320, box.current.clientWidth - 8), height: 240,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), page.timeZone),
        fmtDate: (tpl) => uPlot.fmtDate(tpl, names),
        scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
        series: [{ label: t("time"), value: (u, ts) => (ts == null ? "--"
          : formatTime(lang, ts * 1000, true).slice(0, -3)) }, ...series],
        axes: [{ values: timeLabels(lang) }, { size: 56 }],
      }, data, box.current);
      box.current.dataset.ready = "1";
    });
    return () => { gone = true; if (chart) chart.destroy(); };
  }, [data, lang]);
  return html`<figure class="chart" data-testid=${testid}>
    <figcaption>${label}</figcaption>
    <div ref=${box} role="img" aria-label=${label}></div>
  </figure>`;
}

const percent = (value) => (value == null ? "—" : `${(value * 100).toFixed(1)}%`);

function Summary({ intervals, t }) {
  const sum = (key) => intervals.reduce((total, i) => total + i[key], 0);
  const offered = sum("offered");
  const answered = sum("answered");
  const abandoned = sum("abandoned");
  const within = sum("answered_within");
  return html`<dl class="figures" data-testid="summary">
    <div><dt>${t("offered")}</dt><dd data-testid="offered">${t("calls", { n: offered })}</dd></div>
    <div><dt>${t("answered")}</dt><dd>${t("calls", { n: answered })}</dd></div>
    <div><dt>${t("abandoned")}</dt><dd data-testid="abandoned">${`${t("calls", { n: abandoned })} (${percent(offered ? abandoned / offered : null)})`}</dd></div>
    <div><dt>${t("service_level")}</dt><dd data-testid="service-level">${percent(offered ? within / offered : null)}</dd></div>
  </dl>`;
}

function IntervalTable({ intervals, t, lang, daily }) {
  return html`<details class="as-table"><summary>${t("as_table")}</summary>
    <div class="scroll"><table class="data" data-testid="interval-table">
      <thead><tr><th>${t("interval_start")}</th><th class="num">${t("offered")}</th>
        <th class="num">${t("answered")}</th><th class="num">${t("abandoned")}</th>
        <th class="num">${t("service_level")}</th></tr></thead>
      <tbody>${intervals.filter((i) => i.offered).map((i) => html`<tr>
        <td>${daily ? formatTime(lang, i.start, true).split(",")[0] : formatTime(lang, i.start, true).slice(0, -3)}</td>
        <td class="num">${i.offered}</td><td class="num">${i.answered}</td>
        <td class="num">${i.abandoned}</td><td class="num">${percent(i.service_level)}</td>
      </tr>`)}</tbody>
    </table></div></details>`;
}

function AgentTable({ agents, t }) {
  if (agents.length === 0) return html`<p class="message">${t("no_agents_in_period")}</p>`;
  return html`<div class="scroll"><table class="data" data-testid="agent-table">
    <thead><tr><th>${t("agent")}</th><th class="num">${t("calls_answered")}</th>
      <th class="num">${t("talk")}</th><th class="num">${t("aht")}</th>
      <th class="num">${t("paused")}</th><th>${t("pause_by_reason")}</th>
      <th class="num">${t("logged_in")}</th><th class="num">${t("occupancy")}</th></tr></thead>
    <tbody>${agents.map((a) => html`<tr data-testid="agent-row" data-agent=${a.agent}>
      <td>${a.agent}</td><td class="num">${a.calls}</td>
      <td class="num">${formatDuration(a.talk_seconds)}</td>
      <td class="num">${a.aht_seconds == null ? "—" : formatDuration(a.aht_seconds)}</td>
      <td class="num">${formatDuration(a.paused_seconds)}</td>
      <td>${a.pauses.map((p) => `${p.reason || t("no_reason")} ${formatDuration(p.seconds)}`).join(", ") || "—"}</td>
      <td class="num">${formatDuration(a.logged_in_seconds)}</td>
      <td class="num">${percent(a.occupancy)}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Reports() {
  const [lang, t, choose] = useLanguage();
  const [since, until] = siteDayRange(6);
  const [form, setForm] = useState({ since, until, interval: "1h", queue: "", sl: "20" });
  const [report, setReport] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  document.title = t("nav_reports");

  async function load() {
    setError("");
    setBusy(true);
    const period = { since: siteToIso(form.since), until: siteToIso(form.until) };
    const params = new URLSearchParams({ ...period, interval: form.interval,
      service_level_seconds: form.sl });
    if (form.queue.trim()) params.set("queue", form.queue.trim());
    const [intervals, agents] = await Promise.all([
      api(`/reports/intervals?${params}`), api(`/reports/agents?${new URLSearchParams(period)}`)]);
    setBusy(false);
    for (const response of [intervals, agents]) {
      if (!response.ok) { setError(await problem(response, t)); setReport(null); return; }
    }
    const body = await intervals.json();
    const x = body.intervals.map((i) => Date.parse(i.start) / 1000);
    setReport({
      intervals: body.intervals, agents: (await agents.json()).agents,
      calls: [x, body.intervals.map((i) => i.answered), body.intervals.map((i) => i.abandoned)],
      level: [x, body.intervals.map((i) => (i.service_level == null ? null : i.service_level * 100))],
    });
  }
  useEffect(() => { load(); }, []);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });

  return html`<${Header} title=${t("nav_reports")} lang=${lang} choose=${choose} t=${t} />
    <main class="page">
      <form class="filters panel" aria-label=${t("period")}
        onSubmit=${(e) => { e.preventDefault(); load(); }}>
        <label>${t("from")}<input name="since" type="datetime-local" value=${form.since} onInput=${set("since")} /></label>
        <label>${t("to")}<input name="until" type="datetime-local" value=${form.until} onInput=${set("until")} /></label>
        <label>${t("interval")}<select name="interval" value=${form.interval} onChange=${set("interval")}>
          ${["15m", "30m", "1h", "1d"].map((i) => html`<option value=${i} selected=${i === form.interval}>${t(`interval_${i}`)}</option>`)}
        </select></label>
        <label>${t("queue")}<input name="queue" type="text" value=${form.queue} onInput=${set("queue")} /></label>
        <label>${t("sl_threshold")}<input name="sl" type="number" min="1" value=${form.sl} onInput=${set("sl")} /></label>
        <div class="actions"><button type="submit" disabled=${busy}>${t("show")}</button></div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${report && html`<section class="panel" aria-labelledby="queue-calls">
        <h2 id="queue-calls">${t("queue_calls")}</h2>
        <${Summary} intervals=${report.intervals} t=${t} />
        <div class="charts">
          <${Chart} label=${t("chart_calls")} testid="chart-calls" lang=${lang} t=${t} data=${report.calls}
            series=${[
              { label: t("answered"), stroke: COLOURS.answered, fill: "rgba(26,127,55,.15)" },
              { label: t("abandoned"), stroke: COLOURS.abandoned, fill: "rgba(180,35,24,.12)" }]} />
          <${Chart} label=${t("chart_service_level", { s: form.sl })} testid="chart-sl" lang=${lang} t=${t}
            data=${report.level} yRange=${[0, 100]}
            series=${[{ label: `${t("service_level")}, %`, stroke: COLOURS.service_level, width: 2,
              spanGaps: false }]} />
        </div>
        <${IntervalTable} intervals=${report.intervals} t=${t} lang=${lang}
          daily=${form.interval === "1d"} />
      </section>
      <section class="panel" aria-labelledby="agents-h">
        <h2 id="agents-h">${t("agents_table")}</h2>
        <${AgentTable} agents=${report.agents} t=${t} />
      </section>`}
    </main>`;
}

render(html`<${Reports} />`, document.getElementById("app"));
