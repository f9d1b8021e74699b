"""Oracle for tests/tests/response_pysaml2.rs: pysaml2, acting as the IdP, answers our SP.

Takes no input. Builds a pysaml2 IdP in code (saml2.config.IdPConfig().load({...}),
the bench-fixture IdP key and certificate, xmlsec1 as the signing backend, a
hand-written SP EntityDescriptor for our SP loaded as inline metadata) and asks
saml2.server.Server.create_authn_response for one Response per variant. Writes one
JSON object per line on stdout:

  {"name": ..., "xml": ..., "request_id": ..., "now": ..., "identity": {...},
   "name_id": {"value": ..., "format": ...}, "sign_response": ..., "sign_assertion": ...,
   "sign_alg": ..., "digest_alg": ...}

"now" is the real time (UTC, RFC 3339) right after pysaml2 built the response:
pysaml2 reads the real clock, so the Rust side validates with a FixedClock at that
instant. "sign_alg"/"digest_alg" are what the script asked for (null: pysaml2's
default); the Rust side reads what pysaml2 actually used from the XML.

Usage: idp_pysaml2.py [FIXTURES_DIR]  (default /work/shared/bench-fixtures)
"""

import datetime
import json
import os
import sys
import tempfile

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.saml import NAME_FORMAT_URI
from saml2.server import Server
from saml2.authn_context import PASSWORD
from saml2.xmldsig import (
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA512,
)

IDP = "https://idp.example.test/saml2/metadata"
SP = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SSO = "https://idp.example.test/saml2/sso"

# A minimal SP EntityDescriptor for our SP (what `saml sp-metadata` describes):
# one POST ACS, both NameID formats the variants use, no RequestedAttributes (so
# pysaml2's default release policy lets every attribute through).
SP_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{sp}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>{persistent}</md:NameIDFormat>
    <md:NameIDFormat>{email}</md:NameIDFormat>
    <md:AssertionConsumerService index="0" isDefault="true"
        Binding="{post}" Location="{acs}"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
""".format(
    sp=SP,
    acs=ACS,
    post=BINDING_HTTP_POST,
    persistent=NAMEID_FORMAT_PERSISTENT,
    email=NAMEID_FORMAT_EMAILADDRESS,
)

# The attributes every variant releases: multi-valued, non-ASCII, plain.
IDENTITY = {
    "uid": ["jöhn.dœ-ü"],
    "mail": ["john.doe@example.test"],
    "givenName": ["Jöhn"],
    "sn": ["Dœ"],
    "eduPersonAffiliation": ["member", "staff"],
}

PERSISTENT_ID = "a8f2c1e0-5b6d-4f7a-9c3e-2d1b0a9f8e7d"
EMAIL_ID = "john.doe@example.test"

# name, sign_response, sign_assertion, sign_alg, digest_alg, NameID format
VARIANTS = [
    ("assertion signed, RSA-SHA256", False, True, SIG_RSA_SHA256, DIGEST_SHA256, NAMEID_FORMAT_PERSISTENT),
    ("response signed, RSA-SHA256", True, False, SIG_RSA_SHA256, DIGEST_SHA256, NAMEID_FORMAT_PERSISTENT),
    ("both signed, RSA-SHA256", True, True, SIG_RSA_SHA256, DIGEST_SHA256, NAMEID_FORMAT_PERSISTENT),
    ("both signed, RSA-SHA512, email NameID", True, True, SIG_RSA_SHA512, DIGEST_SHA512, NAMEID_FORMAT_EMAILADDRESS),
    ("assertion signed, RSA-SHA512, email NameID", False, True, SIG_RSA_SHA512, DIGEST_SHA512, NAMEID_FORMAT_EMAILADDRESS),
    ("response signed, RSA-SHA512", True, False, SIG_RSA_SHA512, DIGEST_SHA512, NAMEID_FORMAT_PERSISTENT),
    # No algorithm asked for: whatever pysaml2 7.0.1 picks by default (SHA-1).
    ("both signed, pysaml2 default algorithms", True, True, None, None, NAMEID_FORMAT_PERSISTENT),
    # SHA-1 asked for explicitly: must be refused unless SHA-1 is opted into.
    ("assertion signed, RSA-SHA1 explicit", False, True, SIG_RSA_SHA1, DIGEST_SHA1, NAMEID_FORMAT_EMAILADDRESS),
]


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_server(fixtures, tmp):
    config = {
        "entityid": IDP,
        "key_file": os.path.join(fixtures, "idp-key.pem"),
        "cert_file": os.path.join(fixtures, "idp-cert.pem"),
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "crypto_backend": "xmlsec1",
        "metadata": {"inline": [SP_METADATA]},
        "service": {
            "idp": {
                "name": "pysaml2 oracle IdP",
                "endpoints": {
                    "single_sign_on_service": [
                        (SSO, BINDING_HTTP_REDIRECT),
                        (SSO, BINDING_HTTP_POST),
                    ],
                },
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 15},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    },
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_EMAILADDRESS],
                # The identity database pysaml2 keeps NameIDs in (not used for
                # lookups here: every NameID is given explicitly).
                "subject_data": os.path.join(tmp, "subject_data.db"),
            },
        },
    }
    conf = IdPConfig()
    conf.load(config)
    return Server(config=conf)


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/bench-fixtures"
    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(fixtures, tmp)
        for i, (name, sign_response, sign_assertion, sign_alg, digest_alg, nid_format) in enumerate(VARIANTS):
            request_id = "_pysaml2req%02d%s" % (i, os.urandom(6).hex())
            value = EMAIL_ID if nid_format == NAMEID_FORMAT_EMAILADDRESS else PERSISTENT_ID
            name_id = NameID(format=nid_format, text=value)
            authn_instant = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) - 30
            kwargs = {}
            if sign_alg is not None:
                kwargs["sign_alg"] = sign_alg
                kwargs["digest_alg"] = digest_alg
            response = server.create_authn_response(
                identity=IDENTITY,
                in_response_to=request_id,
                destination=ACS,
                sp_entity_id=SP,
                name_id=name_id,
                authn={"class_ref": PASSWORD, "authn_instant": authn_instant},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                encrypt_assertion=False,
                **kwargs,
            )
            now = datetime.datetime.now(datetime.timezone.utc)
            xml = response if isinstance(response, str) else str(response)
            print(
                json.dumps(
                    {
                        "name": name,
                        "xml": xml,
                        "request_id": request_id,
                        "now": rfc3339(now),
                        "identity": IDENTITY,
                        "name_id": {"value": value, "format": nid_format},
                        "authn_class": PASSWORD,
                        "sign_response": sign_response,
                        "sign_assertion": sign_assertion,
                        "sign_alg": sign_alg,
                        "digest_alg": digest_alg,
                    },
                    ensure_ascii=False,
                )
            )


if __name__ == "__main__":
    main()
