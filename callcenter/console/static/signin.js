// Sign-in: POST /auth/session sets the session cookie; then on to where the user was going.
import { render } from "preact";
import { useState } from "preact/hooks";
import { api, html, LanguageSwitch, useLanguage } from "./console.js";

function target() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // only a path of this site: never //elsewhere or https://elsewhere
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

function SignIn() {
  const [lang, t, choose] = useLanguage();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  document.title = t("title_signin");
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    setBusy(true);
    setError("");
    try {
      const response = await api("/auth/session", {
        method: "POST", toSignIn: false,
        body: { username: form.get("username"), password: form.get("password") },
      });
      if (response.ok) { location.assign(target()); return; }
      if (response.status === 401) setError(t("wrong_credentials"));
      else if (response.status === 429) setError(t("throttled", { seconds: response.headers.get("Retry-After") }));
      else setError(t("failed", { status: response.status }));
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="signin">
    <h1>${t("title_signin")}</h1>
    <form onSubmit=${submit}>
      <label>${t("username")}<input name="username" autocomplete="username" required autofocus /></label>
      <label>${t("password")}<input name="password" type="password" autocomplete="current-password" required /></label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy}>${t("sign_in")}</button>
    </form>
    <${LanguageSwitch} lang=${lang} choose=${choose} t=${t} />
  </main>`;
}

render(html`<${SignIn} />`, document.getElementById("app"));
