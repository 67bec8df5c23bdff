// Shown (with a 403 from the server) when a role opens a page that is not for it.
import { render } from "preact";
import { Header, html, useLanguage } from "./console.js";

function Forbidden() {
  const [lang, t, choose] = useLanguage();
  return html`<${Header} title="callcenter" lang=${lang} choose=${choose} t=${t} />
    <main class="message"><p role="alert">⛔ ${t(location.pathname.startsWith("/administration/") ? "forbidden_admin" : "forbidden")}</p><a href="/">${t("to_my_page")}</a></main>`;
}

render(html`<${Forbidden} />`, document.getElementById("app"));
