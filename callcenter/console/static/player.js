// The recordings' player shared by the calls and speech pages: a signed URL (so the <audio>
// element can seek with Range requests of its own) and a start second to jump to.
import { useEffect, useRef } from "preact/hooks";
import { api, html, problem } from "./console.js";

/** A signed, short-lived URL of a recording, or throws the refusal's message. */
export async function recordingUrl(recordingId, t) {
  const response = await api(`/recordings/${recordingId}/url`, { method: "POST" });
  if (!response.ok) throw new Error(await problem(response, t));
  return (await response.json()).url;
}

/** `playing`: { url, label, start (seconds, optional) }; plays from `start` once loaded. */
export function Player({ playing, t }) {
  const audio = useRef(null);
  useEffect(() => {
    const element = audio.current;
    if (!element || !playing) return undefined;
    const start = () => {
      if (playing.start) element.currentTime = playing.start;
      element.play().catch(() => {});
    };
    if (element.readyState >= 1) { start(); return undefined; }
    element.addEventListener("loadedmetadata", start, { once: true });
    return () => element.removeEventListener("loadedmetadata", start);
  }, [playing]);
  if (!playing) return null;
  return html`<section class="player panel" aria-label=${t("player")} data-testid="player">
    <p><strong>${t("playing")}</strong> ${playing.label}</p>
    <audio ref=${audio} controls preload="metadata" src=${playing.url} data-testid="audio"
      aria-label=${t("recording")}></audio>
  </section>`;
}
