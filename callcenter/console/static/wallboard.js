// The supervisors' wallboard: the live queue picture pushed on /ws/supervisor. Every timer is
// the server's figure at the picture's server time plus the time since, on the server's clock.
import { render } from "preact";
import { useState } from "preact/hooks";
import {
  formatDuration, Header, html, StaleBanner, useClock, useLanguage, useLiveSocket,
} from "./console.js";

// a picture at least every 5 s (server heartbeat): older than this, the feed has stopped
const STALE_AFTER_MS = 12000;

function memberState(m) {
  if (m.on_call) return "on_call";
  if (m.ringing) return "ringing";
  if (m.paused) return "paused";
  return "ready";
}

const AGENT_STATES = [
  ["ready", "✔", "agents_ready"], ["ringing", "☏", "agents_ringing"],
  ["on_call", "☎", "agents_on_call"], ["paused", "‖", "agents_paused"],
];

function Tile({ queue, elapsed, t }) {
  const counts = Object.fromEntries(AGENT_STATES.map(([s]) => [s, 0]));
  queue.members.forEach((m) => { counts[memberState(m)] += 1; });
  const waiting = queue.callers.length;
  const longest = waiting ? queue.longest_wait + elapsed : 0;
  return html`<section class="tile ${waiting ? "has-waiting" : ""}" data-testid="tile" data-queue=${queue.queue}>
    <h2>${queue.queue}</h2>
    <p class="big" data-testid="waiting">${t("waiting", { n: waiting })}</p>
    <p>${t("longest_wait")}: <strong data-testid="longest-wait">${formatDuration(longest)}</strong></p>
    <p class="agents">${t("agents", { n: queue.members.length })}:</p>
    <ul class="agent-states">
      ${AGENT_STATES.map(([state, icon, label]) => html`<li class="agent-${state}">
        <span aria-hidden="true">${icon}</span> ${counts[state]} ${t(label)}</li>`)}
    </ul>
    ${queue.members.length > 0 && html`<table class="members"><tbody>
      ${queue.members.map((m) => {
        const [state, icon] = AGENT_STATES.find(([s]) => s === memberState(m));
        return html`<tr class="agent-${state}" data-testid="member">
          <td>${m.name}</td><td><span aria-hidden="true">${icon}</span> ${t(`state_${state}`)}${m.paused_reason ? `: ${m.paused_reason}` : ""}</td>
          <td>${m.state_seconds == null ? "" : formatDuration(m.state_seconds + elapsed)}</td></tr>`;
      })}
    </tbody></table>`}
    ${waiting > 0 && html`<table class="callers"><thead><tr>
        <th>${t("position")}</th><th>${t("caller")}</th><th>${t("wait")}</th></tr></thead><tbody>
      ${queue.callers.map((c) => html`<tr data-testid="caller">
        <td>${c.position}</td><td>${c.name && c.name !== c.number ? `${c.name} · ` : ""}${c.number}</td>
        <td>${formatDuration(c.wait_seconds + elapsed)}</td></tr>`)}
    </tbody></table>`}
  </section>`;
}

function Wallboard() {
  const [lang, t, choose] = useLanguage();
  const now = useClock();
  const [picture, setPicture] = useState(null);
  document.title = t("title_wallboard");
  const open = useLiveSocket("/ws/supervisor", (message) => {
    if (message.type !== "queues") return;
    // the server's clock now = our clock + offset (as of receipt)
    setPicture({ ...message, offset: message.at * 1000 - Date.now(), received: Date.now() });
  });
  const age = picture ? now - picture.received : 0;
  const stale = !open || (picture && age > STALE_AFTER_MS);
  const elapsed = picture ? Math.max(0, (now + picture.offset) / 1000 - picture.at) : 0;
  return html`<${Header} title=${t("title_wallboard")} lang=${lang} choose=${choose} t=${t} />
    <${StaleBanner} show=${stale} t=${t} />
    <${StaleBanner} show=${picture && !picture.asterisk} t=${t} message="asterisk_down" />
    ${picture && html`<p class="age" data-testid="age">${t("updated_ago", { n: Math.round(age / 1000) })}</p>`}
    <main class="tiles">
      ${picture && picture.queues.length === 0 && html`<p class="message">${t("no_queues")}</p>`}
      ${picture && picture.queues.map((q) => html`<${Tile} queue=${q} elapsed=${elapsed} t=${t} />`)}
    </main>`;
}

render(html`<${Wallboard} />`, document.getElementById("app"));
