//! A deterministic generator of random, well-formed, namespaced XML documents
//! that stress canonicalization: default and prefixed namespaces declared,
//! redeclared and undeclared at random depths, attributes in and out of
//! namespaces, `xml:*` attributes, character references, CDATA, comments,
//! processing instructions and odd whitespace.

/// A small xorshift PRNG, so documents are reproducible from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next raw value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n as u64)).unwrap_or(0)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

const PREFIXES: &[&str] = &["a", "b", "saml", "ds", "xs"];
const URIS: &[&str] = &[
    "urn:one",
    "urn:two",
    "http://example.com/ns#three",
    "urn:q?y=1;z",
    "urn:one",
];
const NAMES: &[&str] = &[
    "Assertion",
    "e",
    "Item",
    "x-y",
    "n.m",
    "_u",
    "\u{e9}l\u{e9}ment",
];
const TEXTS: &[&str] = &[
    "plain",
    " spaced  out ",
    "a &amp; b",
    "&lt;tag&gt;",
    "q\"uote'",
    "\ttab\nline",
    "&#13;cr",
    "&#x20AC;uro",
    "x > y",
    "\u{1F600}",
    "]]",
    "&#9;&#10;",
    "caf\u{e9}",
];
const VALUES: &[&str] = &[
    "v",
    "",
    "a &amp; b",
    "&lt;x&gt;",
    "tab\there",
    "line\nbreak",
    "&#9;&#10;&#13;",
    "'",
    "&quot;",
    ">",
    "cr\r\nlf",
];

/// A random document for `seed`.
#[must_use]
pub fn document(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    if rng.chance(30) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    if rng.chance(20) {
        out.push_str("<!-- before -->\n");
    }
    let mut scope: Vec<(String, String)> = Vec::new();
    element(&mut rng, &mut out, &mut scope, 0);
    if rng.chance(20) {
        out.push_str("\n<?after data?>");
    }
    out
}

fn element(rng: &mut Rng, out: &mut String, scope: &mut Vec<(String, String)>, depth: usize) {
    let mark = scope.len();
    let mut decls: Vec<(String, String)> = Vec::new();
    for _ in 0..rng.below(if depth == 0 { 4 } else { 3 }) {
        let prefix = if rng.chance(30) {
            String::new()
        } else {
            (rng.pick(PREFIXES)).to_owned()
        };
        if decls.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        let uri = if prefix.is_empty() && rng.chance(20) {
            String::new()
        } else {
            (rng.pick(URIS)).to_owned()
        };
        decls.push((prefix, uri));
    }
    if rng.chance(3) {
        decls.push(("xml".into(), "http://www.w3.org/XML/1998/namespace".into()));
    }
    scope.extend(decls.iter().cloned());
    // Prefixes usable here: bound, non-empty URIs.
    let usable: Vec<String> = PREFIXES
        .iter()
        .filter(|p| {
            scope
                .iter()
                .rev()
                .find(|(q, _)| q == *p)
                .is_some_and(|(_, u)| !u.is_empty())
        })
        .map(|p| (*p).to_owned())
        .collect();
    let prefix = if !usable.is_empty() && rng.chance(60) {
        rng.pick(&usable)
    } else {
        String::new()
    };
    let qname = if prefix.is_empty() {
        (rng.pick(NAMES)).to_owned()
    } else {
        format!("{prefix}:{}", rng.pick(NAMES))
    };

    let sp = |rng: &mut Rng| if rng.chance(10) { "\n  " } else { " " };
    out.push('<');
    out.push_str(&qname);
    let mut attrs: Vec<String> = Vec::new();
    for (p, u) in &decls {
        let q = if rng.chance(20) { '\'' } else { '"' };
        let name = if p.is_empty() {
            "xmlns".to_owned()
        } else {
            format!("xmlns:{p}")
        };
        attrs.push(format!("{name}={q}{u}{q}"));
    }
    let mut used: Vec<(String, String)> = Vec::new();
    for _ in 0..rng.below(4) {
        let local = (rng.pick(&["ID", "a", "b", "z", "Name", "lang"])).to_owned();
        let ap = if !usable.is_empty() && rng.chance(40) {
            rng.pick(&usable)
        } else if rng.chance(8) {
            "xml".to_owned()
        } else {
            String::new()
        };
        let local = if ap == "xml" {
            (rng.pick(&["lang", "space", "base"])).to_owned()
        } else {
            local
        };
        // Expanded-name uniqueness: compare URIs, not prefixes.
        let uri = if ap.is_empty() {
            String::new()
        } else if ap == "xml" {
            "xml".to_owned()
        } else {
            scope
                .iter()
                .rev()
                .find(|(q, _)| *q == ap)
                .map(|(_, u)| u.clone())
                .unwrap_or_default()
        };
        if used.iter().any(|(u, l)| *u == uri && *l == local) {
            continue;
        }
        used.push((uri, local.clone()));
        let name = if ap.is_empty() {
            local
        } else {
            format!("{ap}:{local}")
        };
        let value = if name == "xml:space" {
            (rng.pick(&["preserve", "default"])).to_owned()
        } else {
            (rng.pick(VALUES)).to_owned()
        };
        let q = if value.contains('\'') || !rng.chance(20) {
            '"'
        } else {
            '\''
        };
        let value = if q == '"' {
            value.replace('"', "&quot;")
        } else {
            value
        };
        attrs.push(format!("{name}={q}{value}{q}"));
    }
    // Shuffle attribute order so sorting is exercised.
    for i in (1..attrs.len()).rev() {
        let j = rng.below(i + 1);
        attrs.swap(i, j);
    }
    for a in &attrs {
        out.push_str(sp(rng));
        out.push_str(a);
    }
    if depth >= 5 || rng.chance(15) {
        out.push_str(if rng.chance(50) { "/>" } else { " />" });
    } else {
        out.push('>');
        for _ in 0..rng.below(5) {
            match rng.below(10) {
                0..=3 => element(rng, out, scope, depth + 1),
                4..=6 => out.push_str(rng.pick::<&str>(TEXTS)),
                7 => {
                    out.push_str("<!--");
                    out.push_str(rng.pick::<&str>(&[" c ", "", "a-b", "<x>&amp;"]));
                    out.push_str("-->");
                }
                8 => out.push_str(rng.pick::<&str>(&[
                    "<?pi data?>",
                    "<?pi?>",
                    "<?target  spaced data ?>",
                ])),
                _ => out.push_str(rng.pick::<&str>(&[
                    "<![CDATA[<&>]]>",
                    "<![CDATA[]]>",
                    "<![CDATA[\r\nx]]>",
                ])),
            }
        }
        out.push_str("</");
        out.push_str(&qname);
        out.push_str(if rng.chance(10) { " >" } else { ">" });
    }
    scope.truncate(mark);
}
