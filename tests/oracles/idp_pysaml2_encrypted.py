"""Oracle for tests/tests/xmlenc_xmlsec.rs: pysaml2, acting as the IdP, answers our SP
with an encrypted assertion.

Builds a pysaml2 IdP in code (as oracles/idp_pysaml2.py does: the bench-fixture
IdP key and certificate, xmlsec1 as the crypto backend) for an SP whose inline
metadata carries the bench-fixture SP certificate in a KeyDescriptor
use="encryption", and asks saml2.server.Server.create_authn_response with
encrypt_assertion=True for one Response per variant. pysaml2 signs the assertion
(when asked), then has `xmlsec1 --encrypt --pubkey-cert-pem <SP cert>
--session-key <type>` encrypt it (key transport rsa-oaep-mgf1p), then signs the
Response (when asked).

pysaml2 7.0.1 always encrypts with tripledes-cbc and a des-192 session key (the
defaults of saml2.sigver.pre_encryption_part and SecurityContext.encrypt_assertion;
nothing in its configuration changes them). The first variant keeps those
defaults; the others replace the two defaults (content algorithm URI in the
template, xmlsec1 session key type) and leave everything else to pysaml2.

Writes one JSON object per line on stdout:

  {"name": ..., "xml": ..., "request_id": ..., "now": ..., "name_id": ...,
   "msg_enc": ..., "session_key": ..., "sign_response": ..., "sign_assertion": ...}

"msg_enc"/"session_key" are what the script asked for (null: pysaml2's defaults);
the Rust side reads what was used from the XML. "now" is the real time (UTC)
right after pysaml2 built the response.

Usage: idp_pysaml2_encrypted.py [FIXTURES_DIR]  (default /work/shared/bench-fixtures)
"""

import datetime
import json
import os
import sys
import tempfile

import saml2.entity
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, sigver
from saml2.authn_context import PASSWORD
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

IDP = "https://idp.example.test/saml2/metadata"
SP = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SSO = "https://idp.example.test/saml2/sso"

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"

SP_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{sp}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>{persistent}</md:NameIDFormat>
    <md:AssertionConsumerService index="0" isDefault="true"
        Binding="{post}" Location="{acs}"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""

IDENTITY = {
    "uid": ["jöhn.dœ-ü"],
    "mail": ["john.doe@example.test"],
    "givenName": ["Jöhn"],
    "sn": ["Dœ"],
    "eduPersonAffiliation": ["member", "staff"],
}

PERSISTENT_ID = "e3b0c442-98fc-4c14-9afb-f4c8996fb924"

# name, content algorithm URI (None: pysaml2's default), xmlsec1 session key
# (None: pysaml2's default), sign_response, sign_assertion
VARIANTS = [
    ("pysaml2 default encryption, assertion signed", None, None, False, True),
    ("aes128-cbc, assertion signed", XENC + "aes128-cbc", "aes-128", False, True),
    ("aes256-cbc, both signed", XENC + "aes256-cbc", "aes-256", True, True),
    ("aes256-gcm, assertion signed", XENC11 + "aes256-gcm", "aes-256", False, True),
    ("aes128-gcm, response signed", XENC11 + "aes128-gcm", "aes-128", True, False),
]

# What the current variant overrides (None: nothing).
CURRENT = {"msg_enc": None, "session_key": None}

_pre_encryption_part = sigver.pre_encryption_part


def pre_encryption_part(**kwargs):
    if CURRENT["msg_enc"] is not None:
        kwargs["msg_enc"] = CURRENT["msg_enc"]
    return _pre_encryption_part(**kwargs)


_encrypt_assertion = sigver.SecurityContext.encrypt_assertion


def encrypt_assertion(self, statement, enc_key, template, key_type="des-192", node_xpath=None):
    if CURRENT["session_key"] is not None:
        key_type = CURRENT["session_key"]
    return _encrypt_assertion(self, statement, enc_key, template, key_type=key_type, node_xpath=node_xpath)


# entity.py imported the function by name; the method is looked up on the class.
saml2.entity.pre_encryption_part = pre_encryption_part
sigver.SecurityContext.encrypt_assertion = encrypt_assertion


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sp_cert_base64(fixtures):
    with open(os.path.join(fixtures, "sp-cert.pem")) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("-----")]
    return "".join(lines)


def build_server(fixtures, tmp):
    metadata = SP_METADATA.format(
        sp=SP,
        acs=ACS,
        post=BINDING_HTTP_POST,
        persistent=NAMEID_FORMAT_PERSISTENT,
        cert=sp_cert_base64(fixtures),
    )
    config = {
        "entityid": IDP,
        "key_file": os.path.join(fixtures, "idp-key.pem"),
        "cert_file": os.path.join(fixtures, "idp-cert.pem"),
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "crypto_backend": "xmlsec1",
        "metadata": {"inline": [metadata]},
        "service": {
            "idp": {
                "name": "pysaml2 encrypting oracle IdP",
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
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
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
        for i, (name, msg_enc, session_key, sign_response, sign_assertion) in enumerate(VARIANTS):
            CURRENT["msg_enc"] = msg_enc
            CURRENT["session_key"] = session_key
            request_id = "_pysaml2enc%02d%s" % (i, os.urandom(6).hex())
            authn_instant = int(datetime.datetime.now(datetime.timezone.utc).timestamp()) - 30
            response = server.create_authn_response(
                identity=IDENTITY,
                in_response_to=request_id,
                destination=ACS,
                sp_entity_id=SP,
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=PERSISTENT_ID),
                authn={"class_ref": PASSWORD, "authn_instant": authn_instant},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                encrypt_assertion=True,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
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
                        "name_id": PERSISTENT_ID,
                        "msg_enc": msg_enc,
                        "session_key": session_key,
                        "sign_response": sign_response,
                        "sign_assertion": sign_assertion,
                    },
                    ensure_ascii=False,
                )
            )


if __name__ == "__main__":
    main()
