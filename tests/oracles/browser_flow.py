"""A browser-like walk through the example server: login at the development
IdP, the SAML POST back, the protected page, /me, logout.

Usage: browser_flow.py BASE_URL   (exits non-zero on any unexpected answer)
"""
import html
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip("/")
jar=http.cookiejar.CookieJar()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
op=urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
def go(url, data=None, headers={}):
    req=urllib.request.Request(url, data=data, headers=headers)
    try: r=op.open(req)
    except urllib.error.HTTPError as e: r=e
    return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
s,h,b=go(base+"/saml/login?return_to=/")
assert s == 303 and "/dev-idp/sso?SAMLRequest=" in h["location"], (s, h)
assert "saml_binding" in [c.name for c in jar]
s,h,b=go(h["location"])
assert s == 200 and "Development IdP" in b, (s, b[:200])
fields=dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', b))
fields={k: html.unescape(v) for k,v in fields.items()}
btn=re.findall(r'<button[^>]*name="([^"]+)"[^>]*value="([^"]+)"', b)
fields[btn[0][0]]=btn[0][1]
s,h,b=go(base+"/dev-idp/login", urllib.parse.urlencode(fields).encode(), {"Content-Type":"application/x-www-form-urlencoded"})
assert s == 200 and "nonce-" in h.get("content-security-policy", ""), (s, h)
action=html.unescape(re.search(r'action="([^"]+)"', b).group(1))
post=dict((k, html.unescape(v)) for k,v in re.findall(r'name="([^"]+)" value="([^"]*)"', b))
s,h,b=go(action, urllib.parse.urlencode(post).encode(), {"Content-Type":"application/x-www-form-urlencoded"})
assert s == 303 and h.get("location") == "/", (s, h, b[:300])
assert "saml_session" in [c.name for c in jar]
s,h,b=go(base+"/", headers={"Accept":"text/html"})
assert s == 200 and "Hello, alice@example.com" in b, (s, b[:300])
s,h,b=go(base+"/me")
me = json.loads(b)
assert s == 200 and me["provider"] == "dev" and me["name_id"] == "alice@example.com", (s, b)
assert me["session_index"] and me["attributes"]["groups"] == ["admins", "users"], me
s,h,b=go(base+"/saml/logout", b"", {"Origin": base})
assert s == 303, (s, h)
s,h,b=go(base+"/me")
assert s == 401, s
# A replayed response is refused.
s, h, b = go(action, urllib.parse.urlencode(post).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
assert s == 400 and ("replayed" in b or "in_response_to_mismatch" in b), (s, b[:300])
print("browser flow ok")
