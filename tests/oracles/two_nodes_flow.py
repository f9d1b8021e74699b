"""Two nodes of the axum example behind one (imagined) load balancer, sharing
one PostgreSQL database, against the pysaml2 IdP (pysaml2_idp_server.py).

Usage: two_nodes_flow.py PHASE STATE_FILE NODE_A NODE_B IDP

NODE_A and NODE_B are where the two example processes listen. Both were
started with `--base-url NODE_A`: NODE_A's address stands for the load
balancer's public URL, so the SP entity ID, the ACS and SLO URLs and the
Destination of every IdP message name NODE_A, and each node accepts them.
Sending a request to NODE_B is what the balancer does when it picks the
other node. Cookies are host-only (no port), as in a browser, so the
session cookie set by one node is the one the other node reads.

Driven by examples/axum/tests/two_nodes.rs, which manipulates the database
between the phases. Exits non-zero with the failing step on any unexpected
answer. Phases:

  shared          the SP metadata (identical on both nodes) to the IdP;
                  login on A -> the session works on B (/me, same user);
                  the same SAMLResponse posted to B is refused (replayed or
                  in_response_to_mismatch), no session; a login started on A
                  and finished at B's ACS works (the pending login is shared)
                  and its response is refused on A afterwards; an
                  unsolicited response (both nodes allow IdP-initiated
                  sign-in) accepted on A is refused on B as `replayed` (no
                  pending login decides here: only the shared replay
                  cache); SP-initiated
                  logout on B (LogoutRequest to pysaml2, its LogoutResponse
                  back to B) ends the session on A (/me 401 on A and B).
  outage-prepare  a signed-in session, and a second login taken as far as
                  the IdP's POST form (the pending login is in the
                  database); both saved in STATE_FILE.
  outage-during   (the database is gone) /me and / on both nodes answer 503
                  with the saved session cookie; the saved response posted
                  to either ACS answers 503 and sets no session; starting a
                  login answers 503 and sends nobody to the IdP.
  outage-after    (the database is back) waits, with a deadline, for /me on
                  A to answer 200 again; the session works on both nodes;
                  the response held back during the outage completes its
                  sign-in (the outage consumed nothing) and is refused when
                  posted again; a new login on B works.
"""
import base64
import html
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

NAME_ID = "pysaml2-user-7f3a9c"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Accept": "application/json"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Browser:
    """A cookie jar that follows no redirect by itself."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def go(self, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            r = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            r = e
        with r:
            cookies = r.headers.get_all("Set-Cookie") or []
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8"), cookies


def step(name):
    print("--", name, flush=True)


def on(node, url):
    """`url` (on the shared base URL) sent to `node` instead, as a balancer would."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(node)[:2] + parts[2:])


def session_set(cookies):
    return any(c.startswith("saml_session=") and not c.startswith("saml_session=;") for c in cookies)


def post_form(page):
    action = html.unescape(re.search(r'<form action="([^"]+)" method="post">', page).group(1))
    fields = {
        k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


def request_id(location):
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode("utf-8")
    return re.search(r'\bID="([^"]+)"', xml).group(1)


def me(node, session):
    """/me on `node` with only this session cookie: (status, body)."""
    s, _, body, _ = Browser().go(node + "/me", headers=dict(JSON, Cookie="saml_session=" + session))
    return s, body


def start_login(browser, start, base, idp):
    """Login started at node `start` up to the IdP's POST form: (action, fields)."""
    s, h, body, _ = browser.go(start + "/saml/login?idp=py&return_to=/deep/link")
    assert s == 303 and h["location"].startswith(idp + "/sso/redirect?"), (s, h, body[:300])
    s, _, page, _ = browser.go(h["location"])
    assert s == 200, (s, page[:500])
    action, fields = post_form(page)
    # The IdP answers to the ACS of the shared base URL, whichever node asked.
    assert action == base + "/saml/acs", (action, base)
    return action, fields


def finish_login(browser, acs, fields):
    s, h, body, cookies = browser.go(acs, urllib.parse.urlencode(fields).encode(), FORM)
    assert s == 303 and h.get("location") == "/deep/link" and session_set(cookies), (s, h, body[:500])
    return browser.cookie("saml_session")


def refused(acs, fields, binding):
    """Posts a response as a fresh API caller with the binding cookie it was
    issued for: (status, error code); no session may be set."""
    headers = dict(FORM, Accept="application/json", Cookie="saml_binding=" + binding)
    s, h, body, cookies = Browser().go(acs, urllib.parse.urlencode(fields).encode(), headers)
    assert not session_set(cookies), (s, cookies)
    code = json.loads(body).get("error") if h.get("content-type", "").startswith("application/json") else body
    return s, code


def shared(state, a, b, idp):
    step("both nodes publish the same SP metadata (the shared base URL); it goes to the IdP")
    s, _, md_a, _ = Browser().go(a + "/saml/metadata")
    s2, _, md_b, _ = Browser().go(b + "/saml/metadata")
    assert s == 200 and s2 == 200 and ('entityID="%s/saml/metadata"' % a) in md_a, (s, s2, md_a[:300])
    assert md_a == md_b, "the nodes publish different SP metadata"
    s, _, body, _ = Browser().go(idp + "/sp-metadata", md_a.encode("utf-8"), {"Content-Type": "application/xml"})
    assert s == 200, (s, body)

    step("login on A; the session cookie works on B")
    browser = Browser()
    action, fields = start_login(browser, a, a, idp)
    binding = browser.cookie("saml_binding")
    session = finish_login(browser, on(a, action), fields)
    for node in (a, b):
        s, body = me(node, session)
        assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (node, s, body)
        assert json.loads(body)["provider"] == "py", body
    s, _, body, _ = browser.go(b + "/", headers={"Accept": "text/html"})
    assert s == 200 and ("Hello, %s" % NAME_ID) in body, (s, body[:300])
    print("session shared: /me 200 on A and B")

    step("the same SAMLResponse posted to B is refused")
    s, code = refused(on(b, action), fields, binding)
    assert s == 400 and code in ("replayed", "in_response_to_mismatch"), (s, code)
    print("replay on B refused:", s, code)

    step("a login started on A and finished at B's ACS works; its response is refused on A")
    other = Browser()
    action, fields = start_login(other, a, a, idp)
    binding2 = other.cookie("saml_binding")
    session2 = finish_login(other, on(b, action), fields)
    s, body = me(a, session2)
    assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (s, body)
    s, code = refused(on(a, action), fields, binding2)
    assert s == 400 and code in ("replayed", "in_response_to_mismatch"), (s, code)
    print("cross-node login ok; its replay on A refused:", s, code)

    step("an unsolicited response accepted on A is refused on B as replayed")
    query = urllib.parse.urlencode({"sp": a + "/saml/metadata", "RelayState": "/deep/link"})
    s, _, page, _ = Browser().go(idp + "/idp-initiated?" + query)
    assert s == 200, (s, page[:300])
    action, fields = post_form(page)
    assert action == a + "/saml/acs", action
    s, h, body, cookies = Browser().go(action, urllib.parse.urlencode(fields).encode(), FORM)
    assert s == 303 and session_set(cookies), (s, h, body[:300])
    s, h, body, cookies = Browser().go(on(b, action), urllib.parse.urlencode(fields).encode(),
                                       dict(FORM, Accept="application/json"))
    assert s == 400 and json.loads(body)["error"] == "replayed" and not session_set(cookies), (s, body[:300])
    print("unsolicited replay on B refused: replayed")

    step("logout on B (SP-initiated, through pysaml2) ends the session on A")
    s, h, body, _ = browser.go(b + "/saml/logout", b"", dict(FORM, Origin=a))
    assert s == 303 and h["location"].startswith(idp + "/slo/redirect?SAMLRequest="), (s, h, body[:300])
    s, h, body, _ = browser.go(h["location"])
    assert s == 303 and h["location"].startswith(a + "/saml/slo?SAMLResponse="), (s, h, body[:300])
    s, h, body, _ = browser.go(on(b, h["location"]))
    assert s == 303 and h["location"] == "/", (s, h, body[:300])
    for node in (a, b):
        s, body = me(node, session)
        assert s == 401, (node, s, body)
    # The other browser's session is its own and stays.
    s, body = me(a, session2)
    assert s == 200, (s, body)
    print("logout on B ended the session on A")

    step("the audit log (shared) holds the sign-ins, the replays and the logout")
    s, _, body, _ = Browser().go(a + "/audit", headers=dict(JSON, Cookie="saml_session=" + session2))
    assert s == 200, (s, body[:300])
    kinds = [e["kind"] for e in json.loads(body)]
    assert kinds.count("login") >= 3 and "logout" in kinds and "replay" in kinds, kinds
    assert any(e["kind"] == "login" and e["subject"] == NAME_ID and e["client_address"] == "127.0.0.1"
               for e in json.loads(body)), body[:600]
    print("audit:", kinds)


def outage_prepare(state, a, b, idp):
    step("a signed-in session and a login waiting at the IdP's form")
    browser = Browser()
    action, fields = start_login(browser, a, a, idp)
    session = finish_login(browser, on(a, action), fields)
    s, body = me(b, session)
    assert s == 200, (s, body)
    held = Browser()
    action, fields = start_login(held, b, a, idp)
    with open(state, "w", encoding="utf-8") as f:
        json.dump({"session": session, "action": action, "fields": fields,
                   "binding": held.cookie("saml_binding")}, f)


def outage_during(state, a, b, idp):
    with open(state, encoding="utf-8") as f:
        saved = json.load(f)
    session = saved["session"]
    step("the database is gone: the session cookie gets 503 on both nodes")
    for node in (a, b):
        s, body = me(node, session)
        assert s == 503 and json.loads(body)["error"] == "store_unavailable", (node, s, body[:300])
        s, _, body, _ = Browser().go(node + "/", headers=dict(JSON, Cookie="saml_session=" + session))
        assert s == 503, (node, s, body[:300])
    step("a valid response posted to either ACS: 503, nobody let in")
    for node in (a, b):
        s, code = refused(on(node, saved["action"]), saved["fields"], saved["binding"])
        assert s == 503 and code == "store_unavailable", (node, s, code)
    step("a new login cannot start: 503, nobody sent to the IdP")
    for node in (a, b):
        s, h, body, cookies = Browser().go(node + "/saml/login?idp=py", headers=JSON)
        assert s == 503 and "location" not in h and not session_set(cookies), (node, s, h, body[:300])
    print("outage: 503 everywhere, nobody in")


def outage_after(state, a, b, idp):
    with open(state, encoding="utf-8") as f:
        saved = json.load(f)
    session = saved["session"]
    step("the database is back: the service recovers")
    deadline = time.monotonic() + 60
    while True:
        s, body = me(a, session)
        if s == 200:
            break
        assert s == 503 and time.monotonic() < deadline, ("no recovery", s, body[:300])
        time.sleep(0.2)
    for node in (a, b):
        s, body = me(node, session)
        assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (node, s, body)
    step("the response held back during the outage completes its sign-in, once")
    held = Browser()
    held.jar.set_cookie(http.cookiejar.Cookie(
        0, "saml_binding", saved["binding"], None, False, "127.0.0.1", False, False,
        "/saml", True, False, None, False, None, None, {}))
    session2 = finish_login(held, on(b, saved["action"]), saved["fields"])
    s, body = me(a, session2)
    assert s == 200, (s, body)
    s, code = refused(on(a, saved["action"]), saved["fields"], saved["binding"])
    assert s == 400 and code in ("replayed", "in_response_to_mismatch"), (s, code)
    step("a new login on B works")
    browser = Browser()
    action, fields = start_login(browser, b, a, idp)
    session3 = finish_login(browser, on(b, action), fields)
    s, body = me(a, session3)
    assert s == 200, (s, body)
    print("recovered")


PHASES = {
    "shared": shared,
    "outage-prepare": outage_prepare,
    "outage-during": outage_during,
    "outage-after": outage_after,
}


def main():
    phase, state = sys.argv[1], sys.argv[2]
    a, b, idp = (u.rstrip("/") for u in sys.argv[3:6])
    PHASES[phase](state, a, b, idp)
    print("two nodes %s ok" % phase)


if __name__ == "__main__":
    main()
