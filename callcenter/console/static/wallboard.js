// TV mode: the queue tiles in big type, read-only, rotating through the queues when they do
// not all fit. A wall display opens /wallboard#token=<display token> (an admin creates it);
// a signed-in supervisor needs no token.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html, StaleBanner, useLanguage } from "./console.js";
import { Ages, Tile, usePicture } from "./queue-tiles.js";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
// as many tiles as fit side by side in big type; the rest on the next screens
const perScreen = () => Math.max(1, Math.floor(window.innerWidth / 640));
const ROTATE_MS = 10000;

function feedPath() {
  return token ? `/ws/wallboard?token=${encodeURIComponent(token)}` : "/ws/wallboard";
}

function Wallboard() {
  const [lang, t] = useLanguage();
  const { picture, age, stale, serverNow } = usePicture(feedPath());
  const [screen, setScreen] = useState(0);
  document.title = t("title_wallboard");
  const queues = picture ? picture.queues : [];
  const per = perScreen();
  const screens = Math.max(1, Math.ceil(queues.length / per));
  useEffect(() => {
    const timer = setInterval(() => setScreen((s) => s + 1), ROTATE_MS);
    return () => clearInterval(timer);
  }, []);
  const first = (screen % screens) * per;
  const shown = queues.slice(first, first + per);
  return html`<div class="tv" lang=${lang}>
    <${StaleBanner} show=${stale} t=${t} />
    <${StaleBanner} show=${picture && !picture.asterisk} t=${t} message="asterisk_down" />
    <header class="tv-head"><h1>${t("title_wallboard")}</h1>
      ${screens > 1 && html`<span class="note" data-testid="screen">${t("screen_of", { n: (screen % screens) + 1, of: screens })}</span>`}
      <${Ages} picture=${picture} age=${age} serverNow=${serverNow} t=${t} /></header>
    <main class="tiles tv-tiles">
      ${picture && queues.length === 0 && html`<p class="message">${t("no_queues")}</p>`}
      ${shown.map((q) => html`<${Tile} big=${true} queue=${q} today=${picture.figures?.today?.[q.queue]} targets=${picture.figures?.targets?.[q.queue]} serverNow=${serverNow} t=${t} />`)}
    </main></div>`;
}

if (!token && !document.body.dataset.username) {
  location.assign(`/signin?next=${encodeURIComponent("/wallboard")}`);
} else {
  render(html`<${Wallboard} />`, document.getElementById("app"));
}
