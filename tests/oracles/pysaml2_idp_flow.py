"""A browser-less walk through the example server against a third-party IdP:
pysaml2_idp_server.py (pysaml2 7.0.1) registered in the example as `--idp py=...`.

Usage: pysaml2_idp_flow.py SP_BASE IDP_BASE [SP2_BASE]

SP_BASE is the example server with IdP-initiated sign-in off; SP2_BASE (optional)
a second example server with --allow-idp-initiated, the positive control for the
unsolicited response. Steps (exits non-zero with the failing step on any
unexpected answer):

  1. hand each SP's own metadata (GET /saml/metadata) to the IdP (POST /sp-metadata);
  2. SP-initiated login: /saml/login?idp=py&return_to=/deep/link -> 303 to the
     IdP's HTTP-Redirect SSO endpoint with the saml_binding cookie (Path=/saml);
     the IdP answers a POST form (pysaml2's own) for the SP's ACS; the form goes
     to the ACS with the SP's cookies -> 303 /deep/link with saml_session; /me
     and / show the pysaml2 user, NameID and attributes;
  3. the same SAMLResponse again (with the browser-binding cookie it was
     issued for) -> 400, no session;
  4. a pysaml2 Response posted to the other provider's ACS (/saml/dev/acs)
     -> 400, no session; an unsolicited pysaml2 Response (no InResponseTo)
     -> 400 unsolicited_response, no session;
  5. (SP2) the same kind of unsolicited Response is accepted where IdP-initiated
     sign-in is on, lands on its RelayState, and a replay of it is refused as
     `replayed`;
  6. IdP-initiated Single Logout: pysaml2 sends a signed LogoutRequest
     (HTTP-Redirect) to /saml/slo; the SP ends the session and answers a
     LogoutResponse that pysaml2 parses as Success; /me is 401;
  7. SP-initiated Single Logout: POST /saml/logout sends a LogoutRequest to
     pysaml2, which ends its own session and answers a signed LogoutResponse;
     the SP finishes at /; the old session cookie no longer works, and the IdP
     session is gone;
  8. a pysaml2 LogoutRequest whose query signature was tampered with is
     refused (signature_invalid) and the session stays.
"""
import base64
import html
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib

SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
NAME_ID = "pysaml2-user-7f3a9c"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
ATTRIBUTES = {
    "urn:oid:0.9.2342.19200300.100.1.1": ["pat.pysaml2"],  # uid
    "urn:oid:0.9.2342.19200300.100.1.3": ["pat@pysaml2.example.test"],  # mail
    "urn:oid:2.5.4.42": ["Pät"],  # givenName
    "urn:oid:2.5.4.4": ["Pÿsaml"],  # sn
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["member", "staff"],  # eduPersonAffiliation
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Browser:
    """A cookie jar (cookies kept per host and path) that follows nothing by itself."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)

    def go(self, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            r = self.opener.open(req, timeout=10)
        except urllib.error.HTTPError as e:
            r = e
        with r:
            cookies = r.headers.get_all("Set-Cookie") or []
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8"), cookies


def step(name):
    print("--", name, flush=True)


def post_form(page):
    """The action and fields of the IdP's auto-submit POST form."""
    action = html.unescape(re.search(r'<form action="([^"]+)" method="post">', page).group(1))
    fields = {
        k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


def check_response_xml(fields, in_response_to):
    xml = base64.b64decode(fields["SAMLResponse"]).decode("utf-8")
    # pysaml2 signed both the Response and the Assertion with what we asked for.
    assert xml.count("<ns2:Signature ") == 2, xml[:400]
    assert xml.count('SignatureMethod Algorithm="%s"' % SIG_RSA_SHA256) == 2, xml[:800]
    assert xml.count('DigestMethod Algorithm="%s"' % DIGEST_SHA256) == 2, xml[:800]
    if in_response_to:
        assert ('InResponseTo="%s"' % in_response_to) in xml, xml[:400]
    else:
        assert "InResponseTo" not in xml, xml[:400]
    return xml


def request_id(location):
    """The ID of the AuthnRequest carried in an HTTP-Redirect URL."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode("utf-8")
    return re.search(r'\bID="([^"]+)"', xml).group(1)


def session_set(cookies):
    return any(c.startswith("saml_session=") and not c.startswith("saml_session=;") for c in cookies)


def refused(sp, action, fields, cookie=None):
    """POSTs a form to the ACS as an API caller; returns status, error code, cookies set."""
    headers = dict(FORM, Accept="application/json")
    if cookie:
        headers["Cookie"] = cookie
    b = Browser()
    s, h, body, cookies = b.go(action, urllib.parse.urlencode(fields).encode(), headers)
    assert not session_set(cookies), (s, cookies)
    code = json.loads(body).get("error") if h.get("content-type", "").startswith("application/json") else body
    s2, _, me, _ = b.go(sp + "/me")
    assert s2 == 401, (s2, me)
    return s, code


def unsolicited(idp, sp_entity, relay_state):
    query = urllib.parse.urlencode({"sp": sp_entity, "RelayState": relay_state})
    s, h, page, _ = Browser().go(idp + "/idp-initiated?" + query)
    assert s == 200, (s, page[:500])
    return post_form(page)


def sign_in(browser, sp, idp):
    """A plain SP-initiated login (the checks are in main's first steps)."""
    s, h, body, _ = browser.go(sp + "/saml/login?idp=py")
    assert s == 303, (s, h, body[:300])
    s, h, page, _ = browser.go(h["location"])
    assert s == 200, (s, page[:500])
    action, fields = post_form(page)
    s, h, body, cookies = browser.go(action, urllib.parse.urlencode(fields).encode(), FORM)
    assert s == 303 and session_set(cookies), (s, h, body[:500])


def main():
    sp, idp = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
    sp2 = sys.argv[3].rstrip("/") if len(sys.argv) > 3 else None

    step("SP metadata to the IdP")
    for base in [sp] + ([sp2] if sp2 else []):
        s, h, md, _ = Browser().go(base + "/saml/metadata")
        assert s == 200 and ('entityID="%s/saml/metadata"' % base) in md, (s, md[:300])
        s, _, body, _ = Browser().go(idp + "/sp-metadata", md.encode("utf-8"), {"Content-Type": "application/xml"})
        assert s == 200, (s, body)

    step("SP-initiated login: the SP sends the browser to pysaml2")
    browser = Browser()
    s, h, body, _ = browser.go(sp + "/saml/login?idp=py&return_to=/deep/link")
    assert s == 303 and h["location"].startswith(idp + "/sso/redirect?SAMLRequest="), (s, h, body[:300])
    binding = browser.cookie("saml_binding")
    assert binding is not None and binding.path == "/saml", list(browser.jar)
    req_id = request_id(h["location"])

    step("pysaml2 parses the AuthnRequest and answers with a POST form")
    s, h, page, _ = browser.go(h["location"])
    assert s == 200, (s, page[:500])
    action, fields = post_form(page)
    assert action == sp + "/saml/acs", action
    check_response_xml(fields, req_id)

    step("the form goes to the ACS with the SP's cookies")
    s, h, body, cookies = browser.go(action, urllib.parse.urlencode(fields).encode(), FORM)
    assert s == 303 and h.get("location") == "/deep/link", (s, h, body[:500])
    assert session_set(cookies) and browser.cookie("saml_session") is not None, cookies

    step("/me and / show the pysaml2 user")
    s, h, body, _ = browser.go(sp + "/me")
    assert s == 200, (s, body)
    me = json.loads(body)
    assert me["provider"] == "py" and me["name_id"] == NAME_ID, me
    assert me["name_id_format"] == PERSISTENT and me["session_index"], me
    assert me["attributes"] == ATTRIBUTES, me["attributes"]
    s, h, body, _ = browser.go(sp + "/", headers={"Accept": "text/html"})
    assert s == 200 and ("Hello, %s" % NAME_ID) in body and "<b>py</b>" in body, (s, body[:300])
    print("signed in:", json.dumps(me, ensure_ascii=False))

    step("the same SAMLResponse again is refused")
    s, code = refused(sp, action, fields, "saml_binding=" + binding.value)
    assert s == 400 and code in ("in_response_to_mismatch", "replayed"), (s, code)
    print("replay refused:", s, code)
    s, _, body, _ = browser.go(sp + "/me")
    assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (s, body)

    step("two providers side by side: pysaml2's response posted to the dev IdP's ACS is refused")
    b = Browser()
    s, h, body, _ = b.go(sp + "/saml/login?idp=py")
    assert s == 303, (s, h, body[:300])
    s, h, page, _ = b.go(h["location"])
    assert s == 200, (s, page[:300])
    action, fields = post_form(page)
    assert action == sp + "/saml/acs", action
    s, h, body, cookies = b.go(sp + "/saml/dev/acs", urllib.parse.urlencode(fields).encode(),
                               dict(FORM, Accept="application/json"))
    assert s == 400 and json.loads(body)["error"] in ("issuer_mismatch", "destination_mismatch"), (s, body[:300])
    assert not session_set(cookies), cookies
    print("cross-provider response refused:", json.loads(body)["error"])

    step("an unsolicited pysaml2 Response is refused (IdP-initiated sign-in off)")
    action, fields = unsolicited(idp, sp + "/saml/metadata", "/deep/link")
    assert action == sp + "/saml/acs", action
    check_response_xml(fields, None)
    s, code = refused(sp, action, fields)
    assert s == 400 and code == "unsolicited_response", (s, code)
    print("unsolicited refused:", s, code)

    step("IdP-initiated logout: pysaml2 asks the SP to end the session")
    old = browser.cookie("saml_session").value
    s, h, body, _ = browser.go(idp + "/logout-initiate?" + urllib.parse.urlencode({"sp": sp + "/saml/metadata"}))
    assert s == 303 and h["location"].startswith(sp + "/saml/slo?SAMLRequest="), (s, h, body[:300])
    assert "&Signature=" in h["location"], h["location"]
    s, h, body, cookies = browser.go(h["location"])
    assert s == 303 and h["location"].startswith(idp + "/slo/redirect?SAMLResponse="), (s, h, body[:300])
    assert any(c.startswith("saml_session=;") for c in cookies), cookies
    s, h, body, _ = browser.go(h["location"])
    assert s == 200 and "logged out" in body, (s, body[:300])
    s, _, body, _ = browser.go(sp + "/me")
    assert s == 401, (s, body)
    s, _, _, _ = browser.go(idp + "/session")
    assert s == 404, s
    # Ended in the store (by NameID and SessionIndex), not only in this browser.
    s, _, body, _ = Browser().go(sp + "/me", headers={"Cookie": "saml_session=" + old})
    assert s == 401, (s, body)
    print("IdP-initiated logout ok")

    step("SP-initiated logout: the SP asks pysaml2, which ends its session too")
    browser = Browser()
    sign_in(browser, sp, idp)
    old = browser.cookie("saml_session").value
    s, _, _, _ = browser.go(idp + "/session")
    assert s == 200, s
    s, h, body, _ = browser.go(sp + "/saml/logout", b"", dict(FORM, Origin=sp))
    assert s == 303 and h["location"].startswith(idp + "/slo/redirect?SAMLRequest="), (s, h, body[:300])
    s, h, body, _ = browser.go(h["location"])
    assert s == 303 and h["location"].startswith(sp + "/saml/slo?SAMLResponse="), (s, h, body[:300])
    assert "&Signature=" in h["location"], h["location"]
    s, h, body, _ = browser.go(h["location"])
    assert s == 303 and h["location"] == "/", (s, h, body[:300])
    s, _, body, _ = browser.go(sp + "/me")
    assert s == 401, (s, body)
    s, _, body, _ = Browser().go(sp + "/me", headers={"Cookie": "saml_session=" + old})
    assert s == 401, (s, body)
    s, _, _, _ = browser.go(idp + "/session")
    assert s == 404, "the IdP session survived the logout"
    print("SP-initiated logout ok")

    step("a LogoutRequest with a tampered signature is refused")
    browser = Browser()
    sign_in(browser, sp, idp)
    s, h, body, _ = browser.go(idp + "/logout-initiate?" + urllib.parse.urlencode({"sp": sp + "/saml/metadata"}))
    assert s == 303, (s, body[:300])
    location = h["location"]
    head, sig = location.split("&Signature=")
    raw = bytearray(base64.b64decode(urllib.parse.unquote(sig)))
    raw[10] ^= 0x01
    tampered = head + "&Signature=" + urllib.parse.quote(base64.b64encode(bytes(raw)).decode(), safe="")
    s, h, body, _ = browser.go(tampered, headers={"Accept": "application/json"})
    assert s == 400 and json.loads(body)["error"] == "signature_invalid", (s, body[:300])
    s, _, body, _ = browser.go(sp + "/me")
    assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (s, body)
    print("tampered LogoutRequest refused")

    if sp2:
        step("control: the same kind of Response is accepted where IdP-initiated sign-in is on")
        action, fields = unsolicited(idp, sp2 + "/saml/metadata", "/deep/link")
        assert action == sp2 + "/saml/acs", action
        check_response_xml(fields, None)
        b = Browser()
        s, h, body, cookies = b.go(action, urllib.parse.urlencode(fields).encode(), FORM)
        assert s == 303 and h.get("location") == "/deep/link" and session_set(cookies), (s, h, body[:500])
        s, _, body, _ = b.go(sp2 + "/me")
        assert s == 200 and json.loads(body)["name_id"] == NAME_ID, (s, body)
        s, code = refused(sp2, action, fields)
        assert s == 400 and code == "replayed", (s, code)
        print("idp-initiated accepted on SP2; its replay refused:", s, code)

    print("pysaml2 IdP flow ok")


if __name__ == "__main__":
    main()
