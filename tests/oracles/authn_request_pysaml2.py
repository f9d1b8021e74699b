"""Oracle for tests/tests/authn_request_pysaml2.rs: pysaml2 reads our AuthnRequests.

Reads one JSON object on stdin:
  {"cert_pem": "...", "cases": [{"name": ..., "xml": ..., "redirect_query": ...?,
                                 "post_value": ...?}, ...]}
and writes one JSON object on stdout: {"cases": [{"name": ..., "parsed": {...},
"redirect": {...}?, "post": {...}?}, ...]}. The Rust side holds the expectations.

- "schema_errors": the XML validated with lxml against the SAML 2.0 protocol
  schema that pysaml2 ships (saml2/data/schemas; imports resolved locally, no
  network), so element order and attribute types are checked too.
- "parsed": the fields of samlp.authn_request_from_string(xml), as pysaml2 sees them.
- "redirect": the query parsed with urllib.parse.parse_qs, SAMLRequest decoded with
  saml2.s_utils.decode_base64_and_inflate (base64 + zlib raw inflate), the decoded XML
  parsed again, and the query signature (if any) checked two ways: with
  saml2.sigver.verify_redirect_signature (which re-encodes the values with
  urllib's quote_plus) and with `cryptography` over the raw octets up to
  "&Signature=".
- "post": the form value base64-decoded and parsed, and its enveloped XML signature
  (if any) checked with pysaml2's xmlsec1 backend (CryptoBackendXmlSec1).
"""

import base64
import json
import os
import sys
import tempfile
from urllib.parse import parse_qs, unquote

from cryptography import x509
from lxml import etree
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from saml2 import samlp
from saml2.s_utils import decode_base64_and_inflate
from saml2.sigver import CryptoBackendXmlSec1, RSACrypto, verify_redirect_signature

HASHES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}

SCHEMAS = os.path.join(os.path.dirname(samlp.__file__), "data", "schemas")


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


def parsed_fields(xml):
    req = samlp.authn_request_from_string(xml)
    if req is None:
        return None
    out = {
        "tag": req.c_tag,
        "namespace": req.c_namespace,
        "id": req.id,
        "version": req.version,
        "issue_instant": req.issue_instant,
        "destination": req.destination,
        "issuer": text(req.issuer),
        "acs_url": req.assertion_consumer_service_url,
        "acs_index": req.assertion_consumer_service_index,
        "protocol_binding": req.protocol_binding,
        "force_authn": req.force_authn,
        "is_passive": req.is_passive,
        "provider_name": req.provider_name,
        "signed": req.signature is not None,
        "name_id_policy": None,
        "requested_authn_context": None,
        "subject": None,
    }
    if req.name_id_policy is not None:
        out["name_id_policy"] = {
            "format": req.name_id_policy.format,
            "allow_create": req.name_id_policy.allow_create,
        }
    if req.requested_authn_context is not None:
        rac = req.requested_authn_context
        out["requested_authn_context"] = {
            "comparison": rac.comparison,
            "class_refs": [c.text for c in rac.authn_context_class_ref],
        }
    if req.subject is not None and req.subject.name_id is not None:
        out["subject"] = {
            "name_id": req.subject.name_id.text,
            "format": req.subject.name_id.format,
        }
    return out


def check_redirect(query, cert, cert_body):
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    xml = decode_base64_and_inflate(params["SAMLRequest"]).decode("utf-8")
    out = {
        "xml": xml,
        "parsed": parsed_fields(xml),
        "relay_state": params.get("RelayState"),
        "sig_alg": params.get("SigAlg"),
        "pysaml2_signature_valid": None,
        "raw_signature_valid": None,
    }
    if "Signature" in params:
        try:
            out["pysaml2_signature_valid"] = bool(
                verify_redirect_signature(params, RSACrypto(None), cert=cert_body)
            )
        except Exception as e:  # pysaml2 raises on bad signatures
            out["pysaml2_signature_valid"] = False
            out["pysaml2_error"] = repr(e)
        octets, raw_sig = query.split("&Signature=", 1)
        signature = base64.b64decode(unquote(raw_sig))
        try:
            cert.public_key().verify(
                signature, octets.encode("ascii"), padding.PKCS1v15(), HASHES[params["SigAlg"]]()
            )
            out["raw_signature_valid"] = True
        except Exception as e:
            out["raw_signature_valid"] = False
            out["raw_error"] = repr(e)
    return out


def check_post(value, cert_path):
    xml = base64.b64decode(value).decode("utf-8")
    out = {
        "xml": xml,
        "parsed": parsed_fields(xml),
        "schema_errors": schema_errors(xml),
        "xmlsec_signature_valid": None,
    }
    if "<ds:Signature" in xml:
        backend = CryptoBackendXmlSec1("/usr/bin/xmlsec1")
        try:
            out["xmlsec_signature_valid"] = bool(
                backend.validate_signature(
                    xml, cert_path, "pem", samlp.AuthnRequest.c_namespace + ":AuthnRequest", None
                )
            )
        except Exception as e:
            out["xmlsec_signature_valid"] = False
            out["xmlsec_error"] = repr(e)
    return out


def main():
    request = json.load(sys.stdin)
    cert_pem = request["cert_pem"]
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    # pysaml2 wants the base64 body of the certificate, without the PEM armour.
    cert_body = "".join(line for line in cert_pem.splitlines() if "-----" not in line)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        with open(cert_path, "w") as f:
            f.write(cert_pem)
        results = []
        for case in request["cases"]:
            result = {
                "name": case["name"],
                "parsed": parsed_fields(case["xml"]),
                "schema_errors": schema_errors(case["xml"]),
            }
            if case.get("redirect_query") is not None:
                result["redirect"] = check_redirect(case["redirect_query"], cert, cert_body)
            if case.get("post_value") is not None:
                result["post"] = check_post(case["post_value"], cert_path)
            results.append(result)
    json.dump({"cases": results}, sys.stdout)


if __name__ == "__main__":
    main()
