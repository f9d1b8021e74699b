"""Oracle for tests/tests/logout_pysaml2.rs: Single Logout messages both ways with pysaml2.

Reads one JSON object on stdin:
  {"sp_cert_pem": "...", "idp_key_pem": "...",
   "read": [{"name", "kind": "LogoutRequest"|"LogoutResponse", "xml",
             "redirect_query"?, "post_value"?}, ...],
   "make": [{"name", "kind", "id", "issue_instant", "issuer", "destination",
             "relay_state", ... kind-specific fields}, ...]}
and writes {"read": [...], "make": [...]} on stdout. The Rust side holds the
expectations.

"read" (pysaml2 reads what we built, signed by the SP key):
- "parsed": the fields of samlp.logout_request_from_string /
  logout_response_from_string, as pysaml2 sees them;
- "schema_errors": the XML validated with lxml against the SAML 2.0 protocol
  schema pysaml2 ships (imports resolved locally, no network);
- "redirect": the query parsed with parse_qs, the message inflated with
  saml2.s_utils.decode_base64_and_inflate and parsed again, and the query
  signature checked with saml2.sigver.verify_redirect_signature;
- "post": the form value base64-decoded, parsed, and its enveloped signature
  checked with pysaml2's xmlsec1 backend (CryptoBackendXmlSec1).

"make" (pysaml2 builds messages for us to validate, as an IdP would):
- "xml": str() of a saml2.samlp.LogoutRequest / LogoutResponse object;
- "signed_xml": the same object with pysaml2's pre_signature_part
  (RSA-SHA256, SHA-256 digest, exclusive C14N) signed by xmlsec1 through
  CryptoBackendXmlSec1.sign_statement with the IdP key;
- "redirect_query": the query of saml2.pack.http_redirect_message, signed
  with RSA-SHA256 by the IdP key (RSACrypto).
"""

import base64
import json
import os
import sys
import tempfile
from urllib.parse import parse_qs, urlparse

from lxml import etree

from saml2 import saml, samlp
from saml2.cryptography.asymmetric import load_pem_private_key
from saml2.pack import http_redirect_message
from saml2.s_utils import decode_base64_and_inflate
from saml2.sigver import CryptoBackendXmlSec1, RSACrypto, pre_signature_part, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

SCHEMAS = os.path.join(os.path.dirname(samlp.__file__), "data", "schemas")
XMLSEC = "/usr/bin/xmlsec1"


class LocalSchemas(etree.Resolver):
    """Resolves the schemas' imports (some are http:// URLs) to pysaml2's copies."""

    def resolve(self, url, pubid, context):
        path = os.path.join(SCHEMAS, os.path.basename(url))
        if os.path.exists(path):
            return self.resolve_filename(path, context)
        return None


def load_schema():
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalSchemas())
    doc = etree.parse(os.path.join(SCHEMAS, "saml-schema-protocol-2.0.xsd"), parser)
    return etree.XMLSchema(doc)


SCHEMA = load_schema()


def schema_errors(xml):
    doc = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    if SCHEMA.validate(doc):
        return []
    return [str(e) for e in SCHEMA.error_log]


def text(el):
    return None if el is None else el.text


def parse(kind, xml):
    if kind == "LogoutRequest":
        return request_fields(samlp.logout_request_from_string(xml))
    return response_fields(samlp.logout_response_from_string(xml))


def request_fields(req):
    if req is None:
        return None
    name_id = None
    if req.name_id is not None:
        name_id = {
            "value": req.name_id.text,
            "format": req.name_id.format,
            "name_qualifier": req.name_id.name_qualifier,
            "sp_name_qualifier": req.name_id.sp_name_qualifier,
        }
    return {
        "tag": req.c_tag,
        "namespace": req.c_namespace,
        "id": req.id,
        "version": req.version,
        "issue_instant": req.issue_instant,
        "destination": req.destination,
        "issuer": text(req.issuer),
        "name_id": name_id,
        "session_indexes": [s.text for s in req.session_index],
        "not_on_or_after": req.not_on_or_after,
        "reason": req.reason,
        "signed": req.signature is not None,
    }


def response_fields(resp):
    if resp is None:
        return None
    status = None
    if resp.status is not None:
        code = resp.status.status_code
        status = {
            "code": code.value if code is not None else None,
            "sub_code": code.status_code.value if code is not None and code.status_code is not None else None,
            "message": text(resp.status.status_message),
        }
    return {
        "tag": resp.c_tag,
        "namespace": resp.c_namespace,
        "id": resp.id,
        "version": resp.version,
        "issue_instant": resp.issue_instant,
        "destination": resp.destination,
        "in_response_to": resp.in_response_to,
        "issuer": text(resp.issuer),
        "status": status,
        "signed": resp.signature is not None,
    }


def check_redirect(kind, query, cert_body):
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    typ = "SAMLRequest" if kind == "LogoutRequest" else "SAMLResponse"
    xml = decode_base64_and_inflate(params[typ]).decode("utf-8")
    out = {
        "xml": xml,
        "parsed": parse(kind, xml),
        "relay_state": params.get("RelayState"),
        "sig_alg": params.get("SigAlg"),
        "pysaml2_signature_valid": None,
    }
    if "Signature" in params:
        try:
            out["pysaml2_signature_valid"] = bool(
                verify_redirect_signature(params, RSACrypto(None), cert=cert_body)
            )
        except Exception as e:  # pysaml2 raises on bad signatures
            out["pysaml2_signature_valid"] = False
            out["pysaml2_error"] = repr(e)
    return out


def check_post(kind, value, cert_path):
    xml = base64.b64decode(value).decode("utf-8")
    out = {
        "xml": xml,
        "parsed": parse(kind, xml),
        "schema_errors": schema_errors(xml),
        "xmlsec_signature_valid": None,
    }
    if "<ds:Signature" in xml:
        backend = CryptoBackendXmlSec1(XMLSEC)
        try:
            out["xmlsec_signature_valid"] = bool(
                backend.validate_signature(xml, cert_path, "pem", samlp.NAMESPACE + ":" + kind, None)
            )
        except Exception as e:
            out["xmlsec_signature_valid"] = False
            out["xmlsec_error"] = repr(e)
    return out


def build(case):
    """A pysaml2 object for one "make" case."""
    issuer = saml.Issuer(text=case["issuer"], format=saml.NAMEID_FORMAT_ENTITY)
    common = dict(
        id=case["id"],
        version="2.0",
        issue_instant=case["issue_instant"],
        destination=case["destination"],
        issuer=issuer,
    )
    if case["kind"] == "LogoutRequest":
        nid = case["name_id"]
        return samlp.LogoutRequest(
            name_id=saml.NameID(
                text=nid["value"],
                format=nid.get("format"),
                name_qualifier=nid.get("name_qualifier"),
                sp_name_qualifier=nid.get("sp_name_qualifier"),
            ),
            session_index=[samlp.SessionIndex(text=s) for s in case["session_indexes"]],
            reason=case.get("reason"),
            not_on_or_after=case.get("not_on_or_after"),
            **common,
        )
    sub = case.get("sub_code")
    status = samlp.Status(
        status_code=samlp.StatusCode(
            value=case["status_code"],
            status_code=samlp.StatusCode(value=sub) if sub else None,
        ),
        status_message=samlp.StatusMessage(text=case["status_message"]) if case.get("status_message") else None,
    )
    return samlp.LogoutResponse(in_response_to=case["in_response_to"], status=status, **common)


def make(case, key_path, key):
    kind = case["kind"]
    obj = build(case)
    out = {"name": case["name"], "xml": str(obj)}

    signed = build(case)
    signed.signature = pre_signature_part(signed.id, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    backend = CryptoBackendXmlSec1(XMLSEC)
    out["signed_xml"] = backend.sign_statement(str(signed), samlp.NAMESPACE + ":" + kind, key_path, signed.id)

    typ = "SAMLRequest" if kind == "LogoutRequest" else "SAMLResponse"
    info = http_redirect_message(
        str(obj),
        case["destination"],
        relay_state=case["relay_state"],
        typ=typ,
        sigalg=SIG_RSA_SHA256,
        sign=True,
        backend=RSACrypto(key),
    )
    location = dict(info["headers"])["Location"]
    out["redirect_query"] = urlparse(location).query
    return out


def main():
    request = json.load(sys.stdin)
    sp_cert_pem = request["sp_cert_pem"]
    # pysaml2 wants the base64 body of the certificate, without the PEM armour.
    cert_body = "".join(line for line in sp_cert_pem.splitlines() if "-----" not in line)
    key = load_pem_private_key(request["idp_key_pem"].encode("ascii"), None)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path = os.path.join(tmp, "sp-cert.pem")
        with open(cert_path, "w") as f:
            f.write(sp_cert_pem)
        key_path = os.path.join(tmp, "idp-key.pem")
        with open(key_path, "w") as f:
            f.write(request["idp_key_pem"])
        read = []
        for case in request.get("read", []):
            kind = case["kind"]
            result = {
                "name": case["name"],
                "parsed": parse(kind, case["xml"]),
                "schema_errors": schema_errors(case["xml"]),
            }
            if case.get("redirect_query") is not None:
                result["redirect"] = check_redirect(kind, case["redirect_query"], cert_body)
            if case.get("post_value") is not None:
                result["post"] = check_post(kind, case["post_value"], cert_path)
            read.append(result)
        made = [make(case, key_path, key) for case in request.get("make", [])]
    json.dump({"read": read, "make": made}, sys.stdout)


if __name__ == "__main__":
    main()
