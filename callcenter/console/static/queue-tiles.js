// What the supervisor console and the TV wallboard share: the live picture from a pushed feed,
// queue tiles coloured by each queue's thresholds, agent states. Every timer is the server's
// figure at the picture's server time plus the time since, on the server's clock.
import { useRef, useState } from "preact/hooks";
import { formatDuration, html, useClock, useLiveSocket } from "./console.js";

// a picture at least every 5 s (server heartbeat): older than this, the feed has stopped
export const STALE_AFTER_MS = 12000;

export function memberState(m) {
  if (m.on_call) return "on_call";
  if (m.ringing) return "ringing";
  if (m.paused) return "paused";
  return "ready";
}

export const AGENT_STATES = [
  ["ready", "✔", "agents_ready"], ["ringing", "☏", "agents_ringing"],
  ["on_call", "☎", "agents_on_call"], ["paused", "‖", "agents_paused"],
];
export const stateIcon = (state) => AGENT_STATES.find(([s]) => s === state)[1];

const GRADE_ICON = { green: "●", amber: "▲", red: "■" };
const GRADES = ["green", "amber", "red"];

/** green / amber / red (as callcenter.queues.targets.grade) */
export function grade(value, amber, red, lowerIsWorse = false) {
  if (value == null) return "green";
  if (lowerIsWorse) return value < red ? "red" : value < amber ? "amber" : "green";
  return value >= red ? "red" : value >= amber ? "amber" : "green";
}

/** How long the queue's first caller has waited, on the server's clock now. */
export function longestWait(queue, serverNow) {
  return queue.callers.length ? Math.max(0, serverNow - Math.min(...queue.callers.map((c) => c.joined_at))) : 0;
}

/** Each figure's grade and the queue's worst. */
export function queueGrades(queue, today, targets, serverNow) {
  const waiting = queue.callers.length;
  const longest = longestWait(queue, serverNow);
  const t = targets || {};
  const g = {
    waiting: grade(waiting, t.waiting_amber, t.waiting_red),
    longest: grade(longest, t.longest_wait_amber, t.longest_wait_red),
    service_level: grade(today?.service_level, t.service_level_amber, t.service_level_red, true),
    abandoned: grade(today?.abandoned_percent, t.abandoned_amber, t.abandoned_red),
  };
  g.worst = GRADES[Math.max(...Object.values(g).map((x) => GRADES.indexOf(x)))];
  return g;
}

export function Grade({ value, t }) {
  return html`<span class="grade grade-${value}" data-grade=${value}><span aria-hidden="true">${GRADE_ICON[value]}</span> ${t(`grade_${value}`)}</span>`;
}

const pct = (v) => (v == null ? "—" : `${v}%`);
const secs = (v) => (v == null ? "—" : formatDuration(v));

/**
 * The picture from `path`: each message carries the queues and callers, the agents that
 * changed since the last one (all of them when `full`), and today's figures when read again;
 * they are merged here. Returns it with its age, whether it is stale, and the server's clock
 * now (seconds), from which every timer is computed.
 */
export function usePicture(path) {
  const now = useClock();
  const [picture, setPicture] = useState(null);
  const held = useRef({ members: {}, figures: null });
  const open = useLiveSocket(path, (message) => {
    if (message.type !== "queues") return;
    const h = held.current;
    const members = message.full ? {} : { ...h.members };
    Object.assign(members, message.members);
    message.gone.forEach((gone) => { delete members[gone]; });
    h.members = members;
    if (message.figures) h.figures = message.figures;
    const byName = Object.values(members).sort((a, b) => a.name.localeCompare(b.name));
    const queues = message.queues.map((q) => ({ ...q, members: byName.filter((m) => m.queues.includes(q.queue)) }));
    const received = Date.now();
    // the server's clock now = our clock + offset (as of receipt)
    setPicture({ at: message.at, asterisk: message.asterisk, queues, members, figures: h.figures,
      offset: message.at * 1000 - received, received });
  });
  const age = picture ? now - picture.received : 0;
  const stale = !open || Boolean(picture && age > STALE_AFTER_MS);
  // (the clock ticks each second: never before the picture's own time)
  const serverNow = picture ? Math.max(picture.at, (now + picture.offset) / 1000) : now / 1000;
  return { picture, age, stale, serverNow, open };
}

/** Seconds since a server timestamp (null stays null). */
export const since = (stamp, serverNow) => (stamp == null ? null : Math.max(0, serverNow - stamp));

export function Ages({ picture, age, serverNow, t }) {
  if (!picture) return null;
  const figures = picture.figures?.at ? Math.max(0, Math.round(serverNow - picture.figures.at)) : null;
  return html`<p class="age" data-testid="age">${t("updated_ago", { n: Math.round(age / 1000) })}${
    figures == null ? "" : html` · <span data-testid="figures-age">${t("figures_ago", { n: figures })}</span>`}</p>`;
}

export function Tile({ queue, today, targets, serverNow, t, big = false }) {
  const counts = Object.fromEntries(AGENT_STATES.map(([s]) => [s, 0]));
  queue.members.forEach((m) => { counts[memberState(m)] += 1; });
  const waiting = queue.callers.length;
  const longest = longestWait(queue, serverNow);
  const g = queueGrades(queue, today, targets, serverNow);
  const d = today || {};
  return html`<section class="tile grade-border-${g.worst} ${big ? "tv" : ""}" data-testid="tile" data-queue=${queue.queue} data-grade=${g.worst}>
    <header class="tile-head"><h2>${queue.queue}</h2><${Grade} value=${g.worst} t=${t} /></header>
    <p class="big fig-${g.waiting}" data-testid="waiting">${t("waiting", { n: waiting })}</p>
    <dl class="figures">
      <dt>${t("longest_wait")}</dt><dd class="fig-${g.longest}" data-testid="longest-wait">${formatDuration(longest)}</dd>
      <dt>${t("service_level")}</dt><dd class="fig-${g.service_level}" data-testid="service-level">${pct(d.service_level)} <span class="note">/ ${t("target_sl", { target: targets?.service_level_target ?? "—", s: targets?.service_level_seconds ?? "—" })}</span></dd>
      <dt>${t("answered")}</dt><dd data-testid="answered">${d.answered ?? 0}</dd>
      <dt>${t("abandoned")}</dt><dd class="fig-${g.abandoned}" data-testid="abandoned">${d.abandoned ?? 0} (${pct(d.abandoned_percent)})</dd>
      <dt><abbr title=${t("asa_long")}>${t("asa")}</abbr></dt><dd data-testid="asa">${secs(d.asa)}</dd>
      <dt><abbr title=${t("aht_long")}>${t("aht")}</abbr></dt><dd data-testid="aht">${secs(d.aht)}</dd>
    </dl>
    <p class="agents">${t("agents", { n: queue.members.length })}:</p>
    <ul class="agent-states">
      ${AGENT_STATES.map(([state, icon, label]) => html`<li class="agent-${state}">
        <span aria-hidden="true">${icon}</span> ${counts[state]} ${t(label)}</li>`)}
    </ul>
  </section>`;
}
