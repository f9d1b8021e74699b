//! Fuzzes `LogoutValidator`: the input as a POST `LogoutRequest` and
//! `LogoutResponse`, and as a Redirect query carrying either.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saml_fuzz::logout(data));
