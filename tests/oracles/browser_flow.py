"""A browser-like walk through an example server: login at the development
IdP, the SAML POST back, the protected page, /me, logout, a replayed
response. Works for every example (axum, hyper, warp, tonic): they share the
SAML layer and the development IdP under /dev-idp.

Usage: browser_flow.py BASE_URL [--home-contains TEXT]... [--keep-session]
                                [--expect-slo] [--idp-logout]

  --home-contains TEXT  the protected home page must also contain TEXT
                        (example-specific details; repeatable)
  --keep-session        stop after /me: no logout, no replay; print the
                        session cookie as a line `session_cookie=NAME=VALUE`
                        (for callers that go on with the session, e.g. gRPC)
  --expect-slo          the sign-out must go through the IdP's single
                        logout (/dev-idp/slo) and back to the SP's /saml/slo
  --idp-logout          sign out the other way round: the development IdP
                        starts the logout (/dev-idp/logout with the NameID
                        and SessionIndex from /me) and sends a LogoutRequest
                        to the SP's /saml/slo, which answers back to the IdP

Exits non-zero on any unexpected answer.
"""
import argparse
import html
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("--home-contains", action="append", default=[])
parser.add_argument("--keep-session", action="store_true")
parser.add_argument("--expect-slo", action="store_true")
parser.add_argument("--idp-logout", action="store_true")
args = parser.parse_args()
base = args.base.rstrip("/")

jar = http.cookiejar.CookieJar()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def go(url, data=None, headers={}):
    if url.startswith("/"):
        url = base + url
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        r = op.open(req)
    except urllib.error.HTTPError as e:
        r = e
    return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()


# The SP sends the browser to the IdP, with the login-CSRF binding cookie.
s, h, b = go(base + "/saml/login?return_to=/")
assert s == 303 and "/dev-idp/sso?SAMLRequest=" in h["location"], (s, h)
assert "saml_binding" in [c.name for c in jar]
# The development IdP's login page: pick the first user (Alice).
s, h, b = go(h["location"])
assert s == 200 and "Development IdP" in b, (s, b[:200])
form_action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', b).group(1))
assert form_action.endswith("/dev-idp/login"), form_action
fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', b))
fields = {k: html.unescape(v) for k, v in fields.items()}
btn = re.findall(r'<button[^>]*name="([^"]+)"[^>]*value="([^"]+)"', b)
fields[btn[0][0]] = btn[0][1]
s, h, b = go(form_action, urllib.parse.urlencode(fields).encode(), FORM)
assert s == 200 and "nonce-" in h.get("content-security-policy", ""), (s, h)
# The auto-submit form back to the SP's ACS.
action = html.unescape(re.search(r'action="([^"]+)"', b).group(1))
post = dict((k, html.unescape(v)) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', b))
s, h, b = go(action, urllib.parse.urlencode(post).encode(), FORM)
assert s == 303 and h.get("location") == "/", (s, h, b[:300])
assert "saml_session" in [c.name for c in jar]
# The protected page and /me.
s, h, b = go(base + "/", headers={"Accept": "text/html"})
assert s == 200 and "Hello, alice@example.com" in b, (s, b[:300])
for text in args.home_contains:
    assert text in b, (text, b[:600])
s, h, b = go(base + "/me")
me = json.loads(b)
assert s == 200 and me["provider"] == "dev" and me["name_id"] == "alice@example.com", (s, b)
assert me["session_index"] and me["attributes"]["groups"] == ["admins", "users"], me

if args.keep_session:
    cookie = [c for c in jar if c.name == "saml_session"][0]
    print("session_cookie=%s=%s" % (cookie.name, cookie.value))
    print("browser flow ok (session kept)")
    raise SystemExit(0)

# Sign out. With single logout the answer goes through the IdP's SLO URL
# and back to the SP's; follow the redirects that stay on this server's
# SAML and IdP paths.
if args.idp_logout:
    query = urllib.parse.urlencode({"name_id": me["name_id"], "session_index": me["session_index"]})
    s, h, b = go(base + "/dev-idp/logout?" + query)
    assert s == 303 and "/saml/slo?SAMLRequest=" in h.get("location", ""), (s, h, b[:300])
else:
    s, h, b = go(base + "/saml/logout", b"", {"Origin": base})
    assert s == 303, (s, h)
visited = []
location = h.get("location", "")
for _ in range(5):
    path = urllib.parse.urlsplit(location).path
    on_server = location.startswith(base + "/") or location.startswith("/")
    if not (on_server and (path.startswith("/saml/") or path.startswith("/dev-idp/"))):
        break
    visited.append(path)
    s, h, b = go(location)
    assert s in (200, 303), (location, s, b[:300])
    location = h.get("location", "") if s == 303 else ""
if args.expect_slo or args.idp_logout:
    assert "/dev-idp/slo" in visited and "/saml/slo" in visited, visited
s, h, b = go(base + "/me")
assert s == 401, s
# A replayed response is refused.
s, h, b = go(action, urllib.parse.urlencode(post).encode(), FORM)
assert s == 400 and ("replayed" in b or "in_response_to_mismatch" in b), (s, b[:300])
print("browser flow ok")
