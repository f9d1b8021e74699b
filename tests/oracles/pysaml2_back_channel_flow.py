"""The back channel against pysaml2 (pysaml2_idp_server.py): the HTTP-Artifact
binding and SOAP Single Logout, driven like a browser.

Usage: pysaml2_back_channel_flow.py SP_BASE IDP_BASE

SP_BASE is an SP (saml-tower/tests/back_channel_pysaml2.rs) whose provider
`py` asks for the Response by artifact and signs its back-channel messages.
Steps (exits non-zero with the failing step on any unexpected answer):

  1. the SP's metadata (with its Artifact ACS, its SOAP SLO endpoint and its
     signing certificate) goes to the IdP;
  2. SP-initiated login asking for HTTP-Artifact: the IdP sends the browser to
     /saml/artifact with SAMLart; the SP resolves it over SOAP at pysaml2's
     artifact resolution service (pysaml2 checks the signed ArtifactResolve
     against the SP metadata) -> 303 /deep with a session; /me shows the user;
  3. the same SAMLart again -> 400 replayed, no session;
  4. pysaml2 sends a signed LogoutRequest over SOAP to /saml/slo/soap; the SP
     ends the session and answers a signed LogoutResponse that pysaml2
     verifies; /me is 401 and the old session cookie is dead.
"""
import http.cookiejar
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class Browser:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)

    def go(self, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            r = self.opener.open(req, timeout=15)
        except urllib.error.HTTPError as e:
            r = e
        with r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode("utf-8")


def step(name):
    print("--", name, flush=True)


def main():
    sp, idp = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")

    step("SP metadata to the IdP")
    s, _, md = Browser().go(sp + "/saml/metadata")
    assert s == 200, (s, md[:300])
    assert "bindings:HTTP-Artifact" in md and "/saml/slo/soap" in md and "X509Certificate" in md, md
    s, _, body = Browser().go(idp + "/sp-metadata", md.encode("utf-8"), {"Content-Type": "application/xml"})
    assert s == 200, (s, body)

    step("login on the Artifact binding")
    browser = Browser()
    s, h, body = browser.go(sp + "/saml/login?idp=py&return_to=/deep")
    assert s == 303 and h["location"].startswith(idp + "/sso/redirect?SAMLRequest="), (s, h, body[:300])
    s, h, body = browser.go(h["location"])
    assert s == 303 and h["location"].startswith(sp + "/saml/artifact?SAMLart="), (s, h, body[:300])
    artifact_url = h["location"]
    s, h, body = browser.go(artifact_url)
    assert s == 303 and h.get("location") == "/deep", (s, h, body[:500])
    s, _, body = browser.go(sp + "/me")
    assert s == 200, (s, body)
    me = json.loads(body)
    assert me["name_id"] == "pysaml2-user-7f3a9c" and me["provider"] == "py", me
    old = browser.cookie("saml_session").value
    print("signed in by artifact:", me["name_id"])

    step("the same artifact again is refused")
    other = Browser()
    s, h, body = other.go(artifact_url, headers={"Accept": "application/json"})
    assert s == 400 and json.loads(body)["error"] == "replayed", (s, body[:300])
    s, _, _ = other.go(sp + "/me")
    assert s == 401, s

    step("pysaml2 logs the user out over SOAP")
    s, _, body = browser.go(idp + "/logout-soap?" + urllib.parse.urlencode({"sp": sp + "/saml/metadata"}))
    assert s == 200 and "soap logout ok" in body, (s, body[:500])
    s, _, body = Browser().go(sp + "/me", headers={"Cookie": "saml_session=" + old})
    assert s == 401, (s, body)
    print("back channel flow ok")


if __name__ == "__main__":
    main()
