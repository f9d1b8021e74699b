"""A small third-party IdP for end-to-end tests: pysaml2 (Debian python3-pysaml2)
behind the standard library's http.server, listening on 127.0.0.1.

Used by examples/axum/tests/pysaml2_idp.rs (driven by pysaml2_idp_flow.py). It
signs in one fixed test user without a form: every valid AuthnRequest is answered
at once with a signed Response (RSA-SHA256 / SHA-256; pysaml2 defaults to SHA-1)
in an HTTP-POST binding form to the ACS the request names (checked by pysaml2
against the SP metadata).

Routes:
  GET  /metadata         this IdP's metadata (pysaml2's create_metadata_string)
  POST /sp-metadata      body: an SP EntityDescriptor; the IdP trusts that SP from
                         now on (the SP's metadata exists only once the SP runs,
                         and the SP needs this IdP's metadata to start)
  GET  /sso/redirect     SAMLRequest (HTTP-Redirect binding), RelayState: sign in
                         the test user, answer with the POST form
  GET  /idp-initiated    ?sp=ENTITY_ID[&RelayState=...]: an unsolicited Response
                         (no InResponseTo) for that SP, as a POST form
  GET  /session          200 "active" while this browser has an IdP session (the
                         `idp_session` cookie set at sign-in), else 404
  GET  /slo/redirect     SAMLRequest: an SP's LogoutRequest (pysaml2 parses it
                         and checks its signature, if any); the IdP session ends
                         and a signed LogoutResponse goes back (303, HTTP-Redirect).
                         SAMLResponse: the SP's answer to our LogoutRequest,
                         parsed and signature-checked by pysaml2 -> "logged out"
  GET  /logout-initiate  ?sp=ENTITY_ID: an IdP-initiated LogoutRequest for the
                         test user and this browser's session, signed on the
                         HTTP-Redirect binding (303 to the SP's SLO endpoint)
  GET  /logout-soap      ?sp=ENTITY_ID: the same LogoutRequest sent by the IdP
                         itself over SOAP to the SP's SOAP SLO endpoint; the
                         SP's LogoutResponse is parsed (and its signature
                         checked) by pysaml2 -> 200 "soap logout ok"
  POST /ars              the artifact resolution service (SOAP): pysaml2 parses
                         the ArtifactResolve (checking its signature against
                         the SP metadata); the Response the artifact stands
                         for comes back once, in an ArtifactResponse signed by
                         pysaml2's xmlsec1 backend.

An AuthnRequest asking for ProtocolBinding HTTP-Artifact is answered with a
303 to the SP's Artifact ACS carrying SAMLart (pysaml2's use_artifact) instead
of the POST form.

Usage:
  pysaml2_idp_server.py [--port 0] [--metadata-out FILE] [--sp-metadata FILE]
                        [--fixtures DIR] [--sign-response yes|no]

Prints "pysaml2 IdP listening on 127.0.0.1:PORT" as its first stdout line, after
the metadata file (if asked for) is written. Logs go to stderr. Only the standard
library and pysaml2.
"""

import argparse
import datetime
import http.cookies
import os
import re
import secrets
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_SOAP, class_name
from saml2.authn_context import PASSWORD
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NameID
from saml2 import samlp
from saml2.pack import make_soap_enveloped_saml_thingy
from saml2.soap import parse_soap_enveloped_saml_logout_response
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

# The fixed test user.
NAME_ID_VALUE = "pysaml2-user-7f3a9c"
NAME_ID_FORMAT = NAMEID_FORMAT_PERSISTENT
IDENTITY = {
    "uid": ["pat.pysaml2"],
    "mail": ["pat@pysaml2.example.test"],
    "givenName": ["Pät"],
    "sn": ["Pÿsaml"],
    "eduPersonAffiliation": ["member", "staff"],
}


def build_config(base, fixtures, tmp, sp_metadata):
    config = {
        "entityid": base + "/metadata",
        "key_file": os.path.join(fixtures, "idp-key.pem"),
        "cert_file": os.path.join(fixtures, "idp-cert.pem"),
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "crypto_backend": "xmlsec1",
        "metadata": {"inline": sp_metadata},
        "service": {
            "idp": {
                "name": "pysaml2 test IdP",
                "endpoints": {
                    "single_sign_on_service": [(base + "/sso/redirect", BINDING_HTTP_REDIRECT)],
                    "single_logout_service": [(base + "/slo/redirect", BINDING_HTTP_REDIRECT)],
                    "artifact_resolution_service": [(base + "/ars", BINDING_SOAP)],
                },
                "want_authn_requests_signed": False,
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 15},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    },
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_EMAILADDRESS],
                "subject_data": os.path.join(tmp, "subject_data.db"),
            },
        },
    }
    conf = IdPConfig()
    conf.load(config)
    return conf


class Idp:
    """The pysaml2 Server, rebuilt whenever an SP's metadata arrives."""

    def __init__(self, base, fixtures, tmp, sign_response):
        self.base = base
        self.fixtures = fixtures
        self.tmp = tmp
        self.sign_response = sign_response
        self.sp_metadata = []
        # IdP sessions: cookie value -> the SessionIndex given at sign-in.
        self.sessions = {}
        self.lock = threading.Lock()
        self.rebuild()

    def rebuild(self):
        self.conf = build_config(self.base, self.fixtures, self.tmp, self.sp_metadata)
        self.server = Server(config=self.conf)

    def metadata(self):
        xml = create_metadata_string(None, config=self.conf)
        return xml.decode("utf-8") if isinstance(xml, bytes) else xml

    def add_sp(self, xml):
        with self.lock:
            self.sp_metadata.append(xml)
            self.rebuild()

    def response_form(self, in_response_to, destination, sp_entity_id, relay_state):
        """The POST form, and the SessionIndex pysaml2 chose for the assertion."""
        response, session_index = self.signed_response(in_response_to, destination, sp_entity_id)
        http_args = self.server.apply_binding(
            BINDING_HTTP_POST,
            response,
            destination,
            relay_state,
            response=True,
            sign=False,
            sigalg=SIG_RSA_SHA256,
        )
        return http_args["data"], session_index

    def signed_response(self, in_response_to, destination, sp_entity_id):
        """The signed Response XML, and the SessionIndex pysaml2 chose."""
        name_id = NameID(format=NAME_ID_FORMAT, text=NAME_ID_VALUE)
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
        response = self.server.create_authn_response(
            identity=IDENTITY,
            in_response_to=in_response_to,
            destination=destination,
            sp_entity_id=sp_entity_id,
            name_id=name_id,
            authn={"class_ref": PASSWORD, "authn_instant": now},
            sign_assertion=True,
            sign_response=self.sign_response,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            encrypt_assertion=False,
        )
        if isinstance(response, list):
            # pysaml2 turned an IOError into an error Response: say so.
            raise ValueError("pysaml2 built an error response: " + "\n".join(response))
        session_index = re.search(r'SessionIndex="([^"]+)"', str(response))
        return str(response), session_index.group(1) if session_index else None

    def sso_redirect(self, query):
        """Signs the user in: returns the POST form and the new IdP session cookie."""
        saml_request = query.get("SAMLRequest")
        if not saml_request:
            raise ValueError("no SAMLRequest")
        with self.lock:
            req = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
            if req is None:
                raise ValueError("pysaml2 could not parse the AuthnRequest")
            if req.message.protocol_binding == BINDING_HTTP_ARTIFACT:
                return self.sso_artifact(req, query.get("RelayState", ""))
            args = self.server.response_args(req.message, [BINDING_HTTP_POST])
            form, session_index = self.response_form(
                args["in_response_to"],
                args["destination"],
                args["sp_entity_id"],
                query.get("RelayState", ""),
            )
            if not session_index:
                raise ValueError("pysaml2 gave the assertion no SessionIndex")
            cookie = secrets.token_urlsafe(16)
            self.sessions[cookie] = session_index
            return form, cookie

    def sso_artifact(self, req, relay_state):
        """Signs the user in on the Artifact binding: (redirect URL, cookie)."""
        args = self.server.response_args(req.message, [BINDING_HTTP_ARTIFACT])
        xml, session_index = self.signed_response(
            args["in_response_to"], args["destination"], args["sp_entity_id"]
        )
        artifact = self.server.use_artifact(xml, 1)
        cookie = secrets.token_urlsafe(16)
        self.sessions[cookie] = session_index
        query = {"SAMLart": artifact}
        if relay_state:
            query["RelayState"] = relay_state
        return "redirect", args["destination"] + "?" + urllib.parse.urlencode(query), cookie

    def resolve_artifact(self, soap):
        """The SOAP ArtifactResponse for a SOAP ArtifactResolve."""
        with self.lock:
            # pysaml2 parses the ArtifactResolve but checks no signature
            # there. Its security module checks it against the SP metadata,
            # on the SOAP document as received (pysaml2's extraction
            # re-serialises the element with new prefixes, which no
            # signature survives).
            req = self.server.parse_artifact_resolve(soap)
            if req is None or req.signature is None:
                raise ValueError("an unsigned or unreadable ArtifactResolve")
            self.server.sec._check_signature(soap, req, class_name(req), None, must=True)
            artifact = req.artifact.text.strip()
            # Single use: the message is gone once resolved.
            xml = self.server.artifact.pop(artifact, None)
            rid = "id-" + secrets.token_hex(16)
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            inner = re.sub(r"^<\?xml[^>]*\?>\s*", "", xml) if xml else ""
            signature = str(pre_signature_part(rid, self.server.sec.my_cert, 1,
                                               digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256))
            signature = re.sub(r"^<\?xml[^>]*\?>\s*", "", signature)
            message = (
                '<samlp:ArtifactResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
                'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" '
                'IssueInstant="%s" InResponseTo="%s"><saml:Issuer>%s</saml:Issuer>%s'
                '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
                "</samlp:Status>%s</samlp:ArtifactResponse>"
            ) % (rid, now, req.id, self.conf.entityid, signature, inner)
            signed = self.server.sec.sign_statement(
                message, "urn:oasis:names:tc:SAML:2.0:protocol:ArtifactResponse",
                key_file=self.conf.key_file, node_id=rid,
            )
            return soap_wrap(signed)

    def logout_soap(self, query, cookie):
        """IdP-initiated logout over SOAP, sent by the IdP itself."""
        sp = query.get("sp")
        if not sp:
            raise ValueError("no sp")
        with self.lock:
            session_index = self.sessions.get(cookie)
            if session_index is None:
                raise ValueError("this browser has no IdP session")
            slo = self.server.metadata.single_logout_service(sp, BINDING_SOAP, "spsso")
            if not slo:
                raise ValueError("no SOAP SLO endpoint for " + sp)
            destination = slo[0]["location"]
            request_id, request = self.server.create_logout_request(
                destination,
                sp,
                name_id=NameID(format=NAME_ID_FORMAT, text=NAME_ID_VALUE),
                session_indexes=[session_index],
                sign=True,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
        envelope = soap_wrap(str(request))
        http_request = urllib.request.Request(
            destination,
            data=envelope.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8",
                     "SOAPAction": "http://www.oasis-open.org/committees/security"},
        )
        with urllib.request.urlopen(http_request, timeout=10) as r:
            answer = r.read().decode("utf-8")
        with self.lock:
            # As for the ArtifactResolve: pysaml2 reads the message, and its
            # security module checks the signature on the SOAP text as
            # received (pysaml2's own SOAP parsing re-serialises it).
            resp = samlp.logout_response_from_string(parse_soap_enveloped_saml_logout_response(answer))
            if resp is None or resp.signature is None:
                raise ValueError("an unsigned or unreadable LogoutResponse")
            self.server.sec._check_signature(answer, resp, class_name(resp), None, must=True)
            if resp.in_response_to != request_id:
                raise ValueError("the LogoutResponse answers " + str(resp.in_response_to))
            status = resp.status.status_code.value
            if not status.endswith(":Success"):
                raise ValueError("the SP answered " + status)
            self.sessions.pop(cookie, None)
        return "soap logout ok\n"

    def slo(self, query, cookie):
        """The SP's LogoutRequest (-> redirect URL of our answer) or LogoutResponse (-> None)."""
        with self.lock:
            if "SAMLRequest" in query:
                req = self.server.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
                if req is None:
                    raise ValueError("pysaml2 could not parse the LogoutRequest")
                if req.message.name_id.text != NAME_ID_VALUE:
                    raise ValueError("LogoutRequest for an unknown NameID " + req.message.name_id.text)
                if cookie in self.sessions:
                    del self.sessions[cookie]
                response = self.server.create_logout_response(req.message, [BINDING_HTTP_REDIRECT])
                http_args = self.server.apply_binding(
                    BINDING_HTTP_REDIRECT,
                    str(response),
                    response.destination,
                    query.get("RelayState", ""),
                    response=True,
                    sign=True,
                    sigalg=SIG_RSA_SHA256,
                )
                return dict(http_args["headers"])["Location"]
            if "SAMLResponse" in query:
                resp = self.server.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
                if resp is None:
                    raise ValueError("pysaml2 could not parse the LogoutResponse")
                status = resp.response.status.status_code.value
                if not status.endswith(":Success"):
                    raise ValueError("the SP answered " + status)
                if cookie in self.sessions:
                    del self.sessions[cookie]
                return None
            raise ValueError("no SAMLRequest or SAMLResponse")

    def logout_initiate(self, query, cookie):
        sp = query.get("sp")
        if not sp:
            raise ValueError("no sp")
        with self.lock:
            session_index = self.sessions.get(cookie)
            if session_index is None:
                raise ValueError("this browser has no IdP session")
            slo = self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")
            if not slo:
                raise ValueError("no HTTP-Redirect SLO endpoint for " + sp)
            destination = slo[0]["location"]
            _, request = self.server.create_logout_request(
                destination,
                sp,
                name_id=NameID(format=NAME_ID_FORMAT, text=NAME_ID_VALUE),
                session_indexes=[session_index],
                sign=False,
            )
            http_args = self.server.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(request),
                destination,
                query.get("RelayState", "from-idp"),
                sign=True,
                sigalg=SIG_RSA_SHA256,
            )
            return dict(http_args["headers"])["Location"]

    def idp_initiated(self, query):
        sp = query.get("sp")
        if not sp:
            raise ValueError("no sp")
        with self.lock:
            acs = self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)
            if not acs:
                raise ValueError("no POST ACS for " + sp)
            return self.response_form(None, acs[0]["location"], sp, query.get("RelayState", ""))[0]


def soap_wrap(xml):
    """pysaml2's SOAP envelope around a signed message. Its
    make_soap_enveloped_saml_thingy drops an XML declaration by splitting the
    text on newlines and joining the rest without them, which breaks every
    signature over text with newlines; so the declaration goes first."""
    return make_soap_enveloped_saml_thingy(re.sub(r"^<\?xml[^>]*\?>\s*", "", xml))


def make_handler(idp):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, content_type, body):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def redirect(self, location, cookie=None):
            self.send_response(303)
            self.send_header("Location", location)
            if cookie is not None:
                self.send_header("Set-Cookie", "idp_session=%s; Path=/; HttpOnly" % cookie)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def cookie(self):
            jar = http.cookies.SimpleCookie(self.headers.get("Cookie") or "")
            morsel = jar.get("idp_session")
            return morsel.value if morsel else None

        def fail(self, exc):
            self.log_message("refused: %r", exc)
            self.answer(400, "text/plain; charset=utf-8", "pysaml2 IdP: %s: %s\n" % (type(exc).__name__, exc))

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            try:
                if url.path == "/metadata":
                    self.answer(200, "application/samlmetadata+xml", idp.metadata())
                elif url.path == "/sso/redirect":
                    answer = idp.sso_redirect(query)
                    if answer[0] == "redirect":
                        self.redirect(answer[1], cookie=answer[2])
                        return
                    form, cookie = answer
                    data = form.encode("utf-8")
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Set-Cookie", "idp_session=%s; Path=/; HttpOnly" % cookie)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif url.path == "/session":
                    if self.cookie() in idp.sessions:
                        self.answer(200, "text/plain; charset=utf-8", "active\n")
                    else:
                        self.answer(404, "text/plain; charset=utf-8", "no session\n")
                elif url.path == "/slo/redirect":
                    # The raw query: pysaml2 needs the SAMLRequest/SAMLResponse value.
                    location = idp.slo(query, self.cookie())
                    if location is None:
                        self.answer(200, "text/plain; charset=utf-8", "logged out\n")
                    else:
                        self.redirect(location, cookie="")
                elif url.path == "/logout-soap":
                    self.answer(200, "text/plain; charset=utf-8", idp.logout_soap(query, self.cookie()))
                elif url.path == "/logout-initiate":
                    self.redirect(idp.logout_initiate(query, self.cookie()))
                elif url.path == "/idp-initiated":
                    self.answer(200, "text/html; charset=utf-8", idp.idp_initiated(query))
                else:
                    self.answer(404, "text/plain; charset=utf-8", "not found\n")
            except Exception as exc:  # noqa: BLE001 - every failure is a 400 with the reason
                self.fail(exc)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            try:
                if self.path == "/sp-metadata":
                    idp.add_sp(body)
                    self.answer(200, "text/plain; charset=utf-8", "ok\n")
                elif self.path == "/ars":
                    self.answer(200, "text/xml; charset=utf-8", idp.resolve_artifact(body))
                else:
                    self.answer(404, "text/plain; charset=utf-8", "not found\n")
            except Exception as exc:  # noqa: BLE001
                self.fail(exc)

        def log_message(self, fmt, *args):
            sys.stderr.write("pysaml2 IdP: %s\n" % (fmt % args))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--metadata-out", help="write this IdP's metadata here before listening")
    parser.add_argument("--sp-metadata", action="append", default=[], help="trust this SP metadata file")
    parser.add_argument("--fixtures", default="/work/shared/bench-fixtures")
    parser.add_argument("--sign-response", choices=["yes", "no"], default="yes",
                        help="sign the Response as well as the Assertion")
    args = parser.parse_args()

    httpd = HTTPServer(("127.0.0.1", args.port), None)
    port = httpd.server_address[1]
    base = "http://127.0.0.1:%d" % port
    with tempfile.TemporaryDirectory() as tmp:
        idp = Idp(base, args.fixtures, tmp, args.sign_response == "yes")
        for path in args.sp_metadata:
            with open(path, encoding="utf-8") as f:
                idp.add_sp(f.read())
        if args.metadata_out:
            with open(args.metadata_out + ".tmp", "w", encoding="utf-8") as f:
                f.write(idp.metadata())
            os.replace(args.metadata_out + ".tmp", args.metadata_out)
        httpd.RequestHandlerClass = make_handler(idp)
        print("pysaml2 IdP listening on 127.0.0.1:%d; metadata at %s/metadata" % (port, base), flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()


if __name__ == "__main__":
    main()
