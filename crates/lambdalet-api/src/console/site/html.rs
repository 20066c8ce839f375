//! The console's HTML: escaping, the page frame (head, navigation, assets), small pieces.

use axum::response::{Html, IntoResponse, Response};

/// Text or an attribute value, safe inside HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coloured label: `kind` is one of `ok`, `warn`, `bad`, `info`, `muted`.
pub fn badge(text: &str, kind: &str) -> String {
    format!("<span class=\"badge {kind}\">{}</span>", esc(text))
}

/// Which page of the navigation is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Functions,
    Components,
    None,
}

/// A whole page: `title`, the navigation with `nav` marked, and `body`. `signed_in` adds a
/// sign-out button (a console session, not `--auth none`).
pub fn page(title: &str, nav: Nav, body: &str, signed_in: bool) -> Response {
    let link = |href: &str, label: &str, me: Nav| {
        let current = if nav == me {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    let sign_out = if signed_in {
        "<form method=\"post\" action=\"/console/logout\" class=\"signout\"><button type=\"submit\">Sign out</button></form>"
    } else {
        ""
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · lambdalet</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/uPlot.min.css">
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/uPlot.iife.min.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="/console">lambdalet</a>
<nav>{functions}{components}</nav>
{sign_out}
</header>
<main>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
        functions = link("/console", "Functions", Nav::Functions),
        components = link("/console/components", "Components", Nav::Components),
    );
    (
        [
            ("cache-control", "no-store"),
            ("x-frame-options", "DENY"),
            (
                "content-security-policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

/// An RFC 3339 time of `epoch_ms`.
pub fn time(epoch_ms: u64) -> String {
    lambdalet_core::timefmt::rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
