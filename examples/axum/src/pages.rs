//! Server-rendered HTML: the login page (a "Log in using ..." button per
//! enabled provider and the break-glass link), the break-glass login form,
//! and the admin pages' shells. The admin pages' data comes from the admin
//! JSON API through `assets/admin.js`; no page carries an inline script, so
//! every page is served with a strict Content-Security-Policy.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The policy of every page served here: scripts and styles from this
/// origin only, API calls to this origin only, no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The admin pages' script.
pub(crate) const ADMIN_JS: &str = include_str!("../assets/admin.js");
/// The stylesheet of the login page and the admin pages.
pub(crate) const ADMIN_CSS: &str = include_str!("../assets/admin.css");

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) use saml_core::binding::html_escape as escape;

/// Percent-encodes a query parameter value.
pub(crate) fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A local path to return to after a login: starts with one `/`, no
/// control characters or backslashes (no `//host` or `/\host`).
pub(crate) fn local_path(target: &str) -> Option<&str> {
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(char::is_control)
        && target.len() <= 2048;
    ok.then_some(target)
}

/// A complete HTML page with the security headers.
pub(crate) fn html_page(status: StatusCode, title: &str, body_attrs: &str, body: &str) -> Response {
    let page = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>{title}</title>",
            "<link rel=\"stylesheet\" href=\"/admin/assets/admin.css\">",
            "<script src=\"/admin/assets/admin.js\" defer></script>",
            "</head><body{attrs}>{body}</body></html>"
        ),
        title = escape(title),
        attrs = body_attrs,
        body = body
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A static asset (script or stylesheet).
pub(crate) fn asset(content_type: &'static str, text: &'static str) -> Response {
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// One button of the login page.
#[derive(Debug, Clone)]
pub(crate) struct LoginButton {
    pub(crate) name: String,
    pub(crate) display_name: String,
}

/// The login page: one "Log in using ..." button per enabled provider
/// (`None`: the providers could not be read), and the break-glass link.
pub(crate) fn login_page(buttons: Option<&[LoginButton]>, return_to: Option<&str>) -> Response {
    let rt = return_to
        .map(|r| format!("&return_to={}", encode_query(r)))
        .unwrap_or_default();
    let list = match buttons {
        Some([]) => "<p id=\"no-providers\">No sign-in provider is enabled. An administrator \
                     can enable one in the admin pages.</p>"
            .to_owned(),
        Some(buttons) => {
            let items: String = buttons
                .iter()
                .map(|b| {
                    format!(
                        "<li><a class=\"button provider-button\" data-provider=\"{name}\" \
                         href=\"/saml/login?idp={query}{rt}\">Log in using {display}</a></li>",
                        name = escape(&b.name),
                        query = escape(&encode_query(&b.name)),
                        rt = escape(&rt),
                        display = escape(&b.display_name)
                    )
                })
                .collect();
            format!("<ul class=\"providers\" id=\"providers\">{items}</ul>")
        }
        None => "<p class=\"error\" role=\"alert\">The sign-in providers cannot be read right \
                 now (the database is unavailable). Try again in a moment.</p>"
            .to_owned(),
    };
    let body = format!(
        concat!(
            "<main class=\"narrow\"><h1>Sign in</h1>{list}",
            "<p class=\"aside\"><a id=\"break-glass\" href=\"/admin/login\">",
            "Administrator sign-in (local password)</a></p></main>"
        ),
        list = list
    );
    let status = if buttons.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    html_page(status, "Sign in", "", &body)
}

/// The break-glass login form, with an optional error message.
pub(crate) fn admin_login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        concat!(
            "<main class=\"narrow\"><h1>Administrator sign-in</h1>",
            "<p>The local administrator password opens the admin pages even when no ",
            "identity provider works. It was given with <code>--admin-password</code> ",
            "(<code>SAML_ADMIN_PASSWORD</code>) or printed at startup.</p>{error}",
            "<form method=\"post\" action=\"/admin/login\" class=\"stack\">",
            "<input type=\"hidden\" name=\"next\" value=\"{next}\">",
            "<label for=\"password\">Password</label>",
            "<input id=\"password\" name=\"password\" type=\"password\" ",
            "autocomplete=\"current-password\" required autofocus>",
            "<button type=\"submit\" id=\"login\">Sign in</button></form>",
            "<p class=\"aside\"><a href=\"/login\">Back to the sign-in page</a></p></main>"
        ),
        error = error,
        next = escape(next)
    );
    html_page(status, "Administrator sign-in", "", &body)
}

/// The admin pages' navigation bar.
fn nav(who: &str, break_glass: bool) -> String {
    let logout = if break_glass {
        "<form method=\"post\" action=\"/admin/logout\" class=\"inline\">\
         <button type=\"submit\" id=\"logout\" class=\"link\">Sign out</button></form>"
    } else {
        ""
    };
    format!(
        concat!(
            "<header class=\"top\"><nav><a href=\"/admin\">Providers</a>",
            "<a href=\"/admin/providers/new\">Add a provider</a>",
            "<a href=\"/admin/audit\">Audit log</a><a href=\"/login\">Sign-in page</a></nav>",
            "<span class=\"who\">{who}</span>{logout}</header>"
        ),
        who = escape(who),
        logout = logout
    )
}

/// Who is signed in to the admin pages, for the navigation bar.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) name: String,
    pub(crate) break_glass: bool,
}

/// An admin page: the navigation, then `main`, with `data-page` (and
/// more attributes) for the script.
pub(crate) fn admin_page(viewer: &Viewer, title: &str, data: &str, main: &str) -> Response {
    let body = format!(
        "{}<main>{}<div id=\"error\" class=\"error\" role=\"alert\" hidden></div>{}</main>",
        nav(&viewer.name, viewer.break_glass),
        format_args!("<h1>{}</h1>", escape(title)),
        main
    );
    html_page(
        StatusCode::OK,
        &format!("{title} · SAML admin"),
        &format!(" data-api=\"/admin/api\" {data}"),
        &body,
    )
}

/// A provider configured on the command line (not editable here).
#[derive(Debug, Clone)]
pub(crate) struct FixedProvider {
    pub(crate) name: String,
    pub(crate) source: String,
}

/// The provider list.
pub(crate) fn providers_main(fixed: &[FixedProvider]) -> String {
    let fixed = if fixed.is_empty() {
        String::new()
    } else {
        let items: String = fixed
            .iter()
            .map(|p| {
                format!(
                    "<li><code>{}</code> — {}</li>",
                    escape(&p.name),
                    escape(&p.source)
                )
            })
            .collect();
        format!(
            concat!(
                "<section><h2>Providers from the command line</h2>",
                "<p class=\"help\">These come from the server's flags (<code>--idp</code>, the ",
                "built-in development IdP) and are not stored in the database: change them ",
                "where the server is started. A provider added here must not reuse their ",
                "names or entity IDs.</p><ul>{}</ul></section>"
            ),
            items
        )
    };
    format!(
        concat!(
            "<p class=\"help\">Each identity provider (IdP) your users sign in with. Users see a ",
            "<q>Log in using &lt;display name&gt;</q> button for every enabled one; disabling a ",
            "provider hides its button, refuses its sign-ins and signs its users out at once.</p>",
            "<p><a class=\"button\" id=\"add-provider\" href=\"/admin/providers/new\">Add a provider</a></p>",
            "<table id=\"providers\" class=\"grid\"><thead><tr><th>Name</th><th>Display name</th>",
            "<th>IdP entity ID</th><th>Certificates</th><th>Sign-in</th></tr></thead>",
            "<tbody><tr><td colspan=\"5\">Loading…</td></tr></tbody></table>{fixed}"
        ),
        fixed = fixed
    )
}

/// One field of the settings form.
struct Setting {
    key: &'static str,
    label: &'static str,
    kind: Kind,
    help: &'static str,
}

enum Kind {
    Text,
    Checkbox,
    Number,
    Lines,
    Select(&'static [(&'static str, &'static str)]),
}

const PRESETS: &[(&str, &str)] = &[
    ("generic", "Generic SAML 2.0"),
    ("entra_id", "Microsoft Entra ID (Azure AD)"),
    ("adfs", "Microsoft AD FS"),
    ("okta", "Okta"),
    ("google", "Google Workspace"),
    ("shibboleth", "Shibboleth / research and education"),
];

/// The main settings, in the order the form shows them.
const SETTINGS: &[Setting] = &[
    Setting {
        key: "display_name",
        label: "Display name",
        kind: Kind::Text,
        help: "Shown on the sign-in page as \u{201c}Log in using <display name>\u{201d}. \
               Empty: the provider's name.",
    },
    Setting {
        key: "preset",
        label: "IdP product",
        kind: Kind::Select(PRESETS),
        help: "Which claim names to expect (and known quirks of the product). The \
               attribute mapping below applies on top of it.",
    },
    Setting {
        key: "force_authn",
        label: "Force re-authentication",
        kind: Kind::Checkbox,
        help: "Ask the IdP to authenticate the user again at every sign-in, even when \
               they have a session there (ForceAuthn), and refuse older authentications.",
    },
    Setting {
        key: "want_assertions_signed",
        label: "Require signed assertions",
        kind: Kind::Checkbox,
        help: "Refuse responses whose assertion itself is not signed (a signed Response \
               alone is not enough).",
    },
    Setting {
        key: "sign_request",
        label: "Sign authentication requests",
        kind: Kind::Checkbox,
        help: "Sign AuthnRequests with this service's key (some IdPs require it; they \
               find the key in this service's metadata).",
    },
    Setting {
        key: "request_binding",
        label: "Request binding",
        kind: Kind::Select(&[("redirect", "HTTP-Redirect"), ("post", "HTTP-POST")]),
        help: "How the sign-in request travels to the IdP. HTTP-POST is used anyway when \
               the IdP offers no Redirect endpoint.",
    },
    Setting {
        key: "response_binding",
        label: "Response binding",
        kind: Kind::Select(&[("post", "HTTP-POST"), ("artifact", "HTTP-Artifact")]),
        help: "How the IdP returns its answer. Artifact keeps the assertion out of the \
               browser; the IdP needs an artifact resolution service.",
    },
    Setting {
        key: "name_id_format",
        label: "Name ID format",
        kind: Kind::Text,
        help: "The NameID format to ask for, e.g. \
               urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress. Empty: the IdP's choice.",
    },
    Setting {
        key: "authn_context_class_refs",
        label: "Authentication context classes",
        kind: Kind::Lines,
        help: "One per line: AuthnContextClassRefs to request and require, e.g. \
               urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport. Empty: none.",
    },
    Setting {
        key: "clock_skew_seconds",
        label: "Clock skew (seconds)",
        kind: Kind::Number,
        help: "Time difference tolerated between this server's and the IdP's clocks.",
    },
    Setting {
        key: "require_signed_logout",
        label: "Require signed logout messages",
        kind: Kind::Checkbox,
        help: "Refuse unsigned LogoutRequests and LogoutResponses from the IdP (an \
               unsigned LogoutRequest would let anyone end a user's sessions).",
    },
    Setting {
        key: "allow_idp_initiated",
        label: "Allow IdP-initiated sign-in",
        kind: Kind::Checkbox,
        help: "Accept sign-ins started at the IdP (from its app dashboard) without a \
               request from here. Off is safer.",
    },
    Setting {
        key: "is_passive",
        label: "Passive authentication",
        kind: Kind::Checkbox,
        help: "Ask the IdP not to interact with the user (sign-in fails unless they \
               already have a session there).",
    },
    Setting {
        key: "allow_sha1",
        label: "Accept SHA-1 signatures",
        kind: Kind::Checkbox,
        help: "Only for legacy IdPs that cannot sign with SHA-256: SHA-1 is broken.",
    },
];

/// One input wrapped with its label, help and error slot; `field` is the
/// name the API uses for it in field-level errors.
fn field(field: &str, label: &str, input: &str, help: &str) -> String {
    format!(
        concat!(
            "<div class=\"field\" data-field=\"{field}\">{label}{input}",
            "<p class=\"help\">{help}</p><p class=\"field-error\" hidden></p></div>"
        ),
        field = escape(field),
        label = label,
        input = input,
        help = escape(help)
    )
}

fn settings_fields(with_enabled: bool) -> String {
    let mut out = String::new();
    if with_enabled {
        out.push_str(&field(
            "settings.enabled",
            "",
            "<label class=\"check\"><input type=\"checkbox\" id=\"s-enabled\" \
             data-setting=\"enabled\" data-kind=\"bool\"> Enable sign-in right away</label>",
            "Users see the button once the provider is enabled. Leave it off until a \
             test login works, then enable it in the provider list or on its page.",
        ));
    }
    for s in SETTINGS {
        let id = format!("s-{}", s.key);
        let (label, input) = match &s.kind {
            Kind::Checkbox => (
                String::new(),
                format!(
                    "<label class=\"check\"><input type=\"checkbox\" id=\"{id}\" \
                     data-setting=\"{key}\" data-kind=\"bool\"> {label}</label>",
                    key = s.key,
                    label = escape(s.label)
                ),
            ),
            Kind::Text => (
                format!("<label for=\"{id}\">{}</label>", escape(s.label)),
                format!(
                    "<input type=\"text\" id=\"{id}\" data-setting=\"{}\" data-kind=\"optional\">",
                    s.key
                ),
            ),
            Kind::Number => (
                format!("<label for=\"{id}\">{}</label>", escape(s.label)),
                format!(
                    "<input type=\"number\" id=\"{id}\" data-setting=\"{}\" data-kind=\"int\" min=\"0\" max=\"600\">",
                    s.key
                ),
            ),
            Kind::Lines => (
                format!("<label for=\"{id}\">{}</label>", escape(s.label)),
                format!(
                    "<textarea id=\"{id}\" rows=\"2\" data-setting=\"{}\" data-kind=\"lines\"></textarea>",
                    s.key
                ),
            ),
            Kind::Select(options) => {
                let options: String = options
                    .iter()
                    .map(|(value, text)| {
                        format!("<option value=\"{value}\">{}</option>", escape(text))
                    })
                    .collect();
                (
                    format!("<label for=\"{id}\">{}</label>", escape(s.label)),
                    format!(
                        "<select id=\"{id}\" data-setting=\"{}\" data-kind=\"string\">{options}</select>",
                        s.key
                    ),
                )
            }
        };
        out.push_str(&field(
            &format!("settings.{}", s.key),
            &label,
            &input,
            s.help,
        ));
    }
    out
}

/// The metadata source inputs and the preview area.
fn metadata_source(apply_label: &str) -> String {
    format!(
        concat!(
            "<div class=\"field\" data-field=\"metadata_url\">",
            "<label for=\"metadata-url\">IdP metadata URL</label>",
            "<input type=\"url\" id=\"metadata-url\" placeholder=\"https://idp.example.com/metadata\">",
            "<p class=\"help\">Where the IdP publishes its SAML metadata (entity ID, sign-in and ",
            "sign-out URLs, signing certificates). <code>https://</code>; plain ",
            "<code>http://</code> only for this machine (loopback).</p>",
            "<p class=\"field-error\" hidden></p></div>",
            "<div class=\"field\" data-field=\"metadata_xml\">",
            "<label for=\"metadata-xml\">…or the metadata XML</label>",
            "<textarea id=\"metadata-xml\" rows=\"4\" placeholder=\"&lt;md:EntityDescriptor …\"></textarea>",
            "<p class=\"help\">Paste the XML when the IdP has no metadata URL (or upload a file: ",
            "<input type=\"file\" id=\"metadata-file\" accept=\".xml,application/xml,text/xml\">).</p>",
            "<p class=\"field-error\" hidden></p></div>",
            "<details id=\"manual\"><summary>…or enter the IdP's details by hand (no metadata)</summary>",
            "{manual}</details>",
            "<p class=\"actions\"><button type=\"button\" id=\"fetch-metadata\">Fetch metadata</button>",
            "<button type=\"button\" id=\"apply-metadata\" disabled>{apply}</button>",
            "<span class=\"hint\" id=\"apply-hint\">Fetch the metadata first to check what it says.</span></p>",
            "<div id=\"preview\" class=\"preview\" hidden></div>"
        ),
        apply = escape(apply_label),
        manual = manual_fields()
    )
}

/// The inputs of an IdP entered by hand (the API's `manual` source).
fn manual_fields() -> String {
    let text = |key: &str, label: &str, placeholder: &str, help: &str| {
        field(
            &format!("manual.{key}"),
            &format!("<label for=\"manual-{key}\">{}</label>", escape(label)),
            &format!(
                "<input type=\"text\" id=\"manual-{key}\" data-manual=\"{key}\" placeholder=\"{}\">",
                escape(placeholder)
            ),
            help,
        )
    };
    [
        text(
            "entity_id",
            "IdP entity ID (Issuer)",
            "https://idp.example.com/saml",
            "The IdP's identifier, as it writes it in the Issuer of its responses.",
        ),
        text(
            "sso_url",
            "Single sign-on URL",
            "https://idp.example.com/sso",
            "Where users are sent to sign in (https://).",
        ),
        field(
            "manual.sso_binding",
            "<label for=\"manual-sso_binding\">Sign-on binding</label>",
            "<select id=\"manual-sso_binding\" data-manual=\"sso_binding\">\
             <option value=\"redirect\">HTTP-Redirect</option><option value=\"post\">HTTP-POST</option></select>",
            "How the sign-in request reaches that URL; the IdP's documentation says which it takes.",
        ),
        text(
            "slo_url",
            "Single logout URL (optional)",
            "https://idp.example.com/slo",
            "Where logout requests go. Empty: sign-out ends the session here only.",
        ),
        field(
            "manual.certificate_pem",
            "<label for=\"manual-certificate_pem\">Signing certificate (PEM)</label>",
            "<textarea id=\"manual-certificate_pem\" rows=\"4\" data-manual=\"certificate_pem\" \
             placeholder=\"-----BEGIN CERTIFICATE-----\"></textarea>",
            "The IdP's public certificate that signs its responses, in PEM (several may follow each other during a key rollover).",
        ),
    ]
    .concat()
}

/// The attribute-mapping editor.
fn mapping_editor(with_save: bool) -> String {
    let save = if with_save {
        "<p class=\"actions\"><button type=\"button\" id=\"mapping-save\">Save mapping</button>\
         <span class=\"status\" id=\"mapping-status\" role=\"status\"></span></p>"
    } else {
        ""
    };
    let editor = concat!(
        "<p class=\"help\">Which claims (SAML attribute names, or <code>$name_id</code> for the ",
        "NameID) fill which user fields. Several claims, separated by commas, are tried in ",
        "order. A row replaces the IdP product's default for that field; fields without a ",
        "row keep the default. Targets: <code>email</code>, <code>name.given</code>, ",
        "<code>name.family</code>, <code>display_name</code>, <code>username</code>, ",
        "<code>phone</code>, <code>id</code>, or your own such as ",
        "<code>profile.department</code>.</p>",
        "<datalist id=\"targets\"><option value=\"email\"><option value=\"name.given\">",
        "<option value=\"name.family\"><option value=\"display_name\"><option value=\"username\">",
        "<option value=\"phone\"><option value=\"upn\"><option value=\"id\"></datalist>",
        "<div class=\"field\" data-field=\"settings.attribute_mapping\"><p class=\"field-error\" hidden></p>",
        "<table class=\"grid\" id=\"mapping-rows\"><thead><tr><th>User field</th>",
        "<th>Claims (attribute names)</th><th>Required</th><th></th></tr></thead><tbody></tbody></table></div>",
        "<p><button type=\"button\" id=\"mapping-add\" class=\"secondary\">Add a field</button></p>",
        "<div class=\"field\" data-field=\"settings.attribute_mapping.roles\">",
        "<label for=\"mapping-roles\">Role / group claims</label>",
        "<input type=\"text\" id=\"mapping-roles\" placeholder=\"groups\">",
        "<p class=\"help\">Claims holding the user's roles or groups, comma-separated. Empty: ",
        "the IdP product's default.</p><p class=\"field-error\" hidden></p></div>",
        "<div class=\"field\" data-field=\"settings.attribute_mapping.role_separator\">",
        "<label for=\"mapping-separator\">Role separator</label>",
        "<input type=\"text\" id=\"mapping-separator\" placeholder=\";\" maxlength=\"8\">",
        "<p class=\"help\">When the IdP sends all roles in one value (<q>admins;users</q>), the ",
        "string between them. Empty: each value is one role.</p>",
        "<p class=\"field-error\" hidden></p></div>"
    );
    format!("{editor}{save}")
}

/// The "add a provider" page.
pub(crate) fn new_provider_main() -> String {
    format!(
        concat!(
            "<form id=\"new-provider\" class=\"stack\" novalidate>",
            "<section><h2>Name</h2>",
            "<div class=\"field\" data-field=\"name\"><label for=\"name\">Provider name</label>",
            "<input type=\"text\" id=\"name\" required pattern=\"[A-Za-z0-9._~-]+\" maxlength=\"255\" ",
            "placeholder=\"okta\">",
            "<p class=\"help\">A short, unique name: letters, digits, <code>-</code>, <code>_</code>, ",
            "<code>.</code>. It appears in this service's URLs for the IdP (its ACS URL) and ",
            "cannot be changed later.</p><p class=\"field-error\" hidden></p></div></section>",
            "<section><h2>Identity provider</h2>{source}</section>",
            "<section><h2>Settings</h2>{settings}</section>",
            "<section><h2>Attribute mapping</h2>{mapping}</section>",
            "</form>"
        ),
        source = metadata_source("Save provider"),
        settings = settings_fields(true),
        mapping = mapping_editor(false)
    )
}

/// One provider's page.
pub(crate) fn provider_main() -> String {
    format!(
        concat!(
            "<p class=\"switchline\"><label class=\"switch\"><input type=\"checkbox\" role=\"switch\" ",
            "id=\"enabled-switch\"> <span>Sign-in enabled</span></label>",
            "<span class=\"status\" id=\"enabled-status\" role=\"status\"></span></p>",
            "<nav class=\"toc\"><a href=\"#idp\">Identity provider</a><a href=\"#sp\">Values for the IdP</a>",
            "<a href=\"#settings\">Settings</a><a href=\"#mapping\">Attribute mapping</a>",
            "<a href=\"#test\">Test login</a><a href=\"#users\">Users</a><a href=\"#remove\">Remove</a></nav>",
            "<section id=\"idp\"><h2>Identity provider</h2>",
            "<dl class=\"facts\" id=\"idp-facts\"></dl>",
            "<h3>Replace the metadata</h3>{source}</section>",
            "<section id=\"sp\"><h2>Values for the IdP administrator</h2>",
            "<p class=\"help\">Paste these into the IdP when you register this service there ",
            "(or give it the metadata URL).</p><dl class=\"facts\" id=\"sp-facts\"><dd>Loading…</dd></dl></section>",
            "<section id=\"settings\"><h2>Settings</h2><form id=\"settings-form\" class=\"stack\" novalidate>",
            "{settings}<p class=\"actions\"><button type=\"button\" id=\"settings-save\">Save settings</button>",
            "<span class=\"status\" id=\"settings-status\" role=\"status\"></span></p></form></section>",
            "<section id=\"mapping\"><h2>Attribute mapping</h2>{mapping}</section>",
            "<section id=\"test\"><h2>Test login</h2>",
            "<p class=\"help\">Signs in through the IdP in a new tab and shows what this service ",
            "received (the validated assertion and the user it maps to) instead of starting a ",
            "session. Works while the provider is disabled.</p>",
            "<p class=\"actions\"><button type=\"button\" id=\"test-login\">Test login</button>",
            "<a id=\"test-link\" target=\"_blank\" rel=\"noopener\" hidden>Open the test login</a></p></section>",
            "<section id=\"users\"><h2>Users</h2>",
            "<table class=\"grid\" id=\"users-table\"><thead><tr><th>External ID</th><th>Email</th>",
            "<th>Name</th><th>Enabled</th><th>Added</th></tr></thead><tbody></tbody></table>",
            "<p class=\"pager\"><button type=\"button\" class=\"secondary\" id=\"users-prev\" disabled>Previous</button>",
            "<span id=\"users-count\"></span>",
            "<button type=\"button\" class=\"secondary\" id=\"users-next\" disabled>Next</button></p>",
            "<h3>Import users from CSV</h3>",
            "<p class=\"help\">The first line is a header with an <code>ExternalId</code> column ",
            "(the user's NameID at this IdP, usually the email); <code>email</code> and ",
            "<code>name</code> are optional, other columns are kept in the user's profile. ",
            "Existing users are skipped; bad rows are listed with their line.</p>",
            "<div class=\"field\" data-field=\"csv\"><label for=\"import-file\">CSV file</label>",
            "<input type=\"file\" id=\"import-file\" accept=\".csv,text/csv\">",
            "<label for=\"import-text\">…or paste it</label>",
            "<textarea id=\"import-text\" rows=\"4\" placeholder=\"ExternalId,email,name\"></textarea>",
            "<p class=\"field-error\" hidden></p></div>",
            "<p class=\"actions\"><button type=\"button\" id=\"import-button\">Import users</button></p>",
            "<div id=\"import-result\" role=\"status\" hidden></div></section>",
            "<section id=\"remove\"><h2>Remove this provider</h2>",
            "<p class=\"help\">Removes the provider, its users and their sessions. This cannot be undone.</p>",
            "<p class=\"actions\"><button type=\"button\" class=\"danger\" id=\"remove-button\">Remove provider</button></p>",
            "</section>"
        ),
        source = metadata_source("Apply metadata"),
        settings = settings_fields(false),
        mapping = mapping_editor(true)
    )
}

/// The audit log page.
pub(crate) fn audit_main() -> String {
    concat!(
        "<p class=\"help\">Sign-ins, refused sign-ins, replays, logouts and every change made ",
        "here, newest first.</p>",
        "<form id=\"audit-filter\" class=\"row\">",
        "<label>Provider <input type=\"text\" id=\"audit-provider\"></label>",
        "<label>Event <select id=\"audit-kind\"><option value=\"\">any</option>",
        "<option value=\"login\">login</option><option value=\"login_failed\">login_failed</option>",
        "<option value=\"logout\">logout</option><option value=\"replay\">replay</option>",
        "<option value=\"provider_changed\">provider_changed</option>",
        "<option value=\"users_imported\">users_imported</option>",
        "<option value=\"provider_tested\">provider_tested</option></select></label>",
        "<button type=\"submit\">Show</button></form>",
        "<table class=\"grid\" id=\"audit-table\"><thead><tr><th>When (UTC)</th><th>Event</th>",
        "<th>Provider</th><th>Who</th><th>Address</th><th>Code</th><th>Detail</th></tr></thead>",
        "<tbody></tbody></table>",
        "<p class=\"pager\"><button type=\"button\" class=\"secondary\" id=\"audit-older\" disabled>Older</button></p>"
    )
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_only() {
        assert_eq!(local_path("/admin/audit"), Some("/admin/audit"));
        assert_eq!(local_path("//evil.example/"), None);
        assert_eq!(local_path("/\\evil.example"), None);
        assert_eq!(local_path("https://evil.example/"), None);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
        assert_eq!(encode_query("a b&c"), "a%20b%26c");
    }
}
