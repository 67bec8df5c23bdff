// Outbound projects' progress for supervisors: each project's numbers (total, done, pending,
// in retry, success, by the last attempt's result) from GET /projects/{id}/reports/progress,
// and the chosen project's funnel (dialled -> answered -> positive result) as a uPlot bar
// chart with the same figures as a table. Everything is counted by the server.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, Header, html, loadUplot, problem, useLanguage } from "./console.js";

const STEPS = ["dialled", "answered", "positive"];
const COLOURS = ["#0b4fa8", "#1a7f37", "#7a4cc2"];

function FunnelChart({ funnel, label, t }) {
  const box = useRef(null);
  useEffect(() => {
    let chart = null;
    let gone = false;
    loadUplot().then((uPlot) => {
      if (gone || !box.current) return;
      const names = STEPS.map((s) => t(`prj_funnel_${s}`));
      chart = new uPlot({
        width: Math.max(320, box.current.clientWidth - 8), height: 240,
        scales: { x: { time: false, range: [-0.5, STEPS.length - 0.5] },
          y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        legend: { show: false },
        series: [{}, { label: t("prj_numbers_label"), stroke: COLOURS[0], fill: "rgba(11,79,168,.35)",
          paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false } }],
        axes: [{ splits: () => STEPS.map((_, i) => i), values: (u, splits) => splits.map((i) => names[i] ?? "") },
          { size: 56 }],
      }, [STEPS.map((_, i) => i), STEPS.map((s) => funnel[s])], box.current);
      box.current.dataset.ready = "1";
    });
    return () => { gone = true; if (chart) chart.destroy(); };
  }, [funnel, t]);
  return html`<figure class="chart" data-testid="chart-funnel">
    <figcaption>${label}</figcaption>
    <div ref=${box} role="img" aria-label=${`${label}: ${STEPS.map((s) => `${t(`prj_funnel_${s}`)} ${funnel[s]}`).join(", ")}`}></div>
  </figure>`;
}

function FunnelTable({ funnel, t }) {
  const rate = (n) => (funnel.dialled ? `${((n / funnel.dialled) * 100).toFixed(1)}%` : "—");
  return html`<table class="data" data-testid="funnel-table">
    <thead><tr><th>${t("prj_funnel_step")}</th><th class="num">${t("prj_numbers_label")}</th>
      <th class="num">${t("prj_of_dialled")}</th></tr></thead>
    <tbody>${STEPS.map((s) => html`<tr data-step=${s}><td>${t(`prj_funnel_${s}`)}</td>
      <td class="num">${funnel[s]}</td><td class="num">${rate(funnel[s])}</td></tr>`)}</tbody>
  </table>`;
}

function byResult(counts, t) {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([result, n]) => `${t(`prj_result_${result}`)} ${n}`).join(", ") || "—";
}

function ProgressTable({ projects, chosen, choose, t }) {
  if (projects.length === 0) return html`<p class="message">${t("prj_no_projects")}</p>`;
  return html`<div class="scroll"><table class="data" data-testid="project-table">
    <thead><tr><th>${t("prj_project")}</th><th>${t("prj_project_status")}</th>
      <th class="num">${t("prj_total")}</th><th class="num">${t("prj_done")}</th>
      <th class="num">${t("prj_pending")}</th><th class="num">${t("prj_in_retry")}</th>
      <th class="num">${t("prj_success")}</th><th>${t("prj_by_result")}</th></tr></thead>
    <tbody>${projects.map(({ project, progress }) => html`<tr data-testid="project-row"
        data-project=${project.id} class=${project.id === chosen ? "chosen" : ""}>
      <td><button type="button" class="link" aria-pressed=${project.id === chosen ? "true" : "false"} onClick=${() => choose(project.id)}>${project.name}</button></td>
      <td>${t(`prj_status_${project.status}`)}</td>
      <td class="num">${progress.total}</td><td class="num">${progress.done}</td>
      <td class="num">${progress.pending}</td><td class="num">${progress.in_retry}</td>
      <td class="num">${progress.success}</td><td>${byResult(progress.by_result, t)}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Projects() {
  const [lang, t, chooseLang] = useLanguage();
  const [projects, setProjects] = useState(null);
  const [chosen, setChosen] = useState(null);
  const [funnel, setFunnel] = useState(null);
  const [error, setError] = useState("");
  document.title = t("nav_projects");

  async function load() {
    setError("");
    const listed = await api("/projects");
    if (!listed.ok) { setError(await problem(listed, t)); return; }
    const rows = [];
    for (const project of await listed.json()) {
      const response = await api(`/projects/${project.id}/reports/progress`);
      if (!response.ok) { setError(await problem(response, t)); return; }
      rows.push({ project, progress: await response.json() });
    }
    setProjects(rows);
    if (rows.length && chosen == null) setChosen(rows[0].project.id);
  }
  useEffect(() => { load(); }, []);
  useEffect(() => {
    if (chosen == null) return;
    setFunnel(null);
    api(`/projects/${chosen}/reports/funnel`).then(async (response) => {
      if (!response.ok) { setError(await problem(response, t)); return; }
      setFunnel(await response.json());
    });
  }, [chosen]);
  const name = projects && projects.find((p) => p.project.id === chosen)?.project.name;

  return html`<${Header} title=${t("nav_projects")} lang=${lang} choose=${chooseLang} t=${t} />
    <main class="page">
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <section class="panel" aria-labelledby="projects-h">
        <h2 id="projects-h">${t("prj_projects_progress")}</h2>
        <div class="actions"><button type="button" onClick=${load}>${t("prj_refresh")}</button></div>
        ${projects && html`<${ProgressTable} projects=${projects} chosen=${chosen} choose=${setChosen} t=${t} />`}
      </section>
      ${funnel && html`<section class="panel" aria-labelledby="funnel-h">
        <h2 id="funnel-h">${t("prj_funnel_of", { name })}</h2>
        <div class="charts">
          <${FunnelChart} funnel=${funnel} label=${t("prj_funnel_chart")} t=${t} />
          <${FunnelTable} funnel=${funnel} t=${t} />
        </div>
      </section>`}
    </main>`;
}

render(html`<${Projects} />`, document.getElementById("app"));
