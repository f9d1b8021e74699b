//! Fuzzes `LogoutValidator`: the input as a POST `LogoutRequest` and
//! `LogoutResponse`, and as a Redirect query carrying either.
#![no_main]

use saml_core::protocol::LogoutValidator;
use saml_fuzz::{IDP, LOGOUT_REQUEST_ID, SLO, clock, idp_key};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let clock = clock();
    // Signatures optional, so unsigned inputs reach every later check; a
    // signature that is present must still verify.
    let mut validator = LogoutValidator::new(IDP, vec![idp_key().clone()], SLO);
    validator.require_signature = false;
    let _ = validator.validate_request(text, &clock);
    let _ = validator.validate_response(text, LOGOUT_REQUEST_ID, &clock);
    let _ = validator.validate_request_redirect(text, &clock);
    let _ = validator.validate_response_redirect(text, LOGOUT_REQUEST_ID, &clock);
});
