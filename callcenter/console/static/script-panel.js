// The call script beside the card (outbound projects and inbound queues), and the preview
// dialler's card: the agent's own module, hooked into desktop.js. Every text arrives already
// shaped by the server's data policy (a hidden field reads "…").
import { useEffect, useState } from "preact/hooks";
import { api, html } from "./console.js";

async function problem(response) {
  try {
    const body = await response.json();
    return Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
  } catch {
    return String(response.status);
  }
}

/** The script for a call (linkedid), walked step by step; answers stored on the server. */
export function ScriptPanel({ linkedid, queue, t }) {
  const [walk, setWalk] = useState(null);
  const [error, setError] = useState(null);
  const [text, setText] = useState("");
  useEffect(() => {
    let gone = false;
    setWalk(null); setError(null);
    if (!linkedid) return undefined;
    (async () => {
      const response = await api(`/scripts/calls/${encodeURIComponent(linkedid)}`,
        { method: "POST", body: queue ? { queue } : {} });
      if (gone) return;
      if (response.ok) setWalk(await response.json());
      else if (response.status !== 404) setError(await problem(response));
    })();
    return () => { gone = true; };
  }, [linkedid, queue]);
  if (!linkedid || (!walk && !error)) return null;
  async function answer(value) {
    const response = await api(`/scripts/calls/${encodeURIComponent(linkedid)}/answers`,
      { method: "POST", body: { step: walk.step.id, answer: value } });
    if (response.ok) { setWalk(await response.json()); setText(""); setError(null); }
    else setError(await problem(response));
  }
  const step = walk && walk.step;
  return html`<section class="script" data-testid="script" aria-label=${t("script_title")}>
    <h2>${t("script_title")}${walk ? html` <small>v${walk.version}</small>` : ""}</h2>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${step && html`<div class="step" data-testid="script-step" data-step=${step.id}>
      <p class="say">${step.text}</p>
      ${step.choices.length > 0 && html`<div class="choices">
        ${step.choices.map((c) => html`<button type="button" onClick=${() => answer(c.value)}>${c.label}</button>`)}
      </div>`}
      ${step.input && html`<form onSubmit=${(e) => { e.preventDefault(); if (text.trim()) answer(text.trim()); }}>
        <label>${t("script_answer")} <textarea value=${text} maxlength="2000" onInput=${(e) => setText(e.target.value)}></textarea></label>
        <button type="submit">${t("script_next")}</button>
      </form>`}
      ${!step.input && step.choices.length === 0 && !step.final && html`<button type="button" onClick=${() => answer("ok")}>${t("script_next")}</button>`}
    </div>`}
    ${walk && !step && html`<p class="message">${t("script_done")}</p>`}
  </section>`;
}

/** Preview dialling: the next card of the agent's project, then Call or Skip (with a reason). */
export function PreviewPanel({ t, onCalled }) {
  const [projects, setProjects] = useState([]);
  const [card, setCard] = useState(null);
  const [message, setMessage] = useState(null);
  const [reason, setReason] = useState("");
  useEffect(() => {
    (async () => {
      const response = await api("/projects");
      if (response.ok) setProjects((await response.json()).filter((p) => p.mode === "preview" && p.status === "running"));
    })();
  }, []);
  if (!projects.length) return null;
  async function next(projectId) {
    const response = await api(`/projects/${projectId}/preview/next`, { method: "POST" });
    if (response.ok) { setCard(await response.json()); setMessage(null); }
    else { setCard(null); setMessage(await problem(response)); }
  }
  async function call() {
    const response = await api(`/projects/${card.project_id}/preview/${card.entry.id}/call`, { method: "POST" });
    if (response.ok) { const body = await response.json(); setMessage(t("preview_calling")); onCalled && onCalled(body.linkedid); setCard(null); }
    else setMessage(await problem(response));
  }
  async function skip(event) {
    event.preventDefault();
    if (!reason.trim()) return;
    const response = await api(`/projects/${card.project_id}/preview/${card.entry.id}/skip`,
      { method: "POST", body: { reason: reason.trim() } });
    if (response.ok) { setReason(""); await next(card.project_id); }
    else setMessage(await problem(response));
  }
  return html`<section class="preview" data-testid="preview" aria-label=${t("preview_title")}>
    <h2>${t("preview_title")}</h2>
    ${projects.map((p) => html`<button type="button" onClick=${() => next(p.id)}>${t("preview_next")}: ${p.name}</button>`)}
    ${message && html`<p class="message" role="status">${message}</p>`}
    ${card && html`<article class="card" data-testid="preview-card">
      <h3>${card.entry.name}</h3>
      <p class="number">${card.entry.phone} · ${t("preview_attempts", { n: card.entry.attempts })}</p>
      ${Object.keys(card.entry.fields).length > 0 && html`<dl class="fields">
        ${Object.entries(card.entry.fields).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
      </dl>`}
      ${card.script && card.script.step && html`<p class="say" data-testid="preview-script">${card.script.step.text}</p>`}
      <button type="button" data-testid="preview-call" onClick=${call}>☎ ${t("preview_call")}</button>
      <form onSubmit=${skip}>
        <label>${t("preview_skip_reason")} <input value=${reason} maxlength="200" required onInput=${(e) => setReason(e.target.value)} /></label>
        <button type="submit" data-testid="preview-skip">${t("preview_skip")}</button>
      </form>
    </article>`}
  </section>`;
}
