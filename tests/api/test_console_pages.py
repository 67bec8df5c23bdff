"""The console's pages as the server hands them out: by role, in the user's language, with a
policy that lets the browser load nothing from elsewhere."""

from __future__ import annotations

from tests.browser import PASSWORD


async def signed_in(api, username: str) -> None:
    response = await api.client.post("/auth/session",
                                     json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


async def test_pages_send_strangers_to_sign_in_and_come_back(api):
    for path in ("/", "/desktop", "/supervisor"):
        response = await api.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/signin?next={path}"
    # the TV wallboard's page holds no data: a display opens it with its token in the
    # fragment (never sent to the server); the feed is what needs the token
    page = await api.client.get("/wallboard")
    assert page.status_code == 200 and 'data-page="wallboard"' in page.text


async def test_each_role_is_sent_to_its_own_screen(api):
    await signed_in(api, "anna")
    assert (await api.client.get("/")).headers["location"] == "/desktop"
    assert (await api.client.get("/supervisor")).status_code == 403
    assert (await api.client.get("/wallboard")).status_code == 403
    api.client.cookies.clear()
    await signed_in(api, "sue")
    assert (await api.client.get("/")).headers["location"] == "/supervisor"
    page = await api.client.get("/supervisor")
    assert page.status_code == 200 and 'data-role="supervisor"' in page.text
    assert 'src="/static/supervisor.js"' in page.text


async def test_a_page_loads_only_our_own_scripts_in_the_users_language(api):
    await signed_in(api, "anna")
    page = await api.client.get("/desktop", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert '<html lang="ru">' in page.text
    assert 'data-time-zone="Europe/Moscow"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self' 'sha256-" in policy
    api.client.cookies.set("cc_lang", "en")
    page = await api.client.get("/desktop", headers={"Accept-Language": "ru"})
    assert '<html lang="en">' in page.text  # the user's choice wins over the browser's


async def test_the_vendored_libraries_are_served_with_their_licences(api):
    for path in ("/static/vendor/preact/preact.module.js", "/static/vendor/htm/htm.module.js",
                 "/static/vendor/preact/LICENSE", "/static/vendor/htm/LICENSE"):
        assert (await api.client.get(path)).status_code == 200, path


async def test_the_pop_url_passes_the_number_to_the_page_escaped(api):
    await signed_in(api, "anna")
    page = await api.client.get("/pop", params={"number": '"><script>x</script>'})
    assert "<script>x" not in page.text
    assert 'data-pop-number="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in page.text
