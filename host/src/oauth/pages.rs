//! The HTML of the hosted login pages: plain server-rendered forms, no script, every value
//! escaped. Each form posts to `/t/{tenant}/authorize/…` with the anti-forgery token and
//! the authorization request it serves, so the flow returns to the authorization endpoint
//! whatever page it passes through. Forms and fields have stable ids and names: browsers,
//! password managers and the tests rely on them.

use std::fmt::Write as _;

use crate::tenancy::LegalDue;

/// What every page needs.
#[derive(Debug)]
pub struct Context<'a> {
    /// `/t/{tenant}`: where the forms post.
    pub prefix: &'a str,
    pub tenant_label: &'a str,
    pub csrf: &'a str,
    /// The authorization request's parameters, URL-encoded.
    pub request: &'a str,
    /// An error or notice to show above the form.
    pub message: Option<&'a str>,
}

/// A factor the person may pass, as a page shows it.
#[derive(Debug)]
pub struct Choice<'a> {
    pub id: &'a str,
    /// `password`, `otp` or `totp`.
    pub kind: &'a str,
    pub channel: Option<&'a str>,
}

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn document(title: &str, label: &str, message: Option<&str>, body: &str) -> String {
    let notice = message.map(|m| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(m))).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {label}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         form{{margin:1rem 0;display:grid;gap:.5rem}}input,button{{font-size:1rem;padding:.5rem}}\
         .notice{{background:#fdecea;padding:.5rem;border-radius:4px}}</style></head>\
         <body><h1>{title}</h1><p>{label}</p>{notice}{body}</body></html>\n",
        title = escape(title),
        label = escape(label),
    )
}

/// The hidden fields every form carries.
fn hidden(ctx: &Context<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"request\" value=\"{}\">",
        escape(ctx.csrf),
        escape(ctx.request)
    )
}

fn form(ctx: &Context<'_>, id: &str, action: &str, fields: &str, button: &str) -> String {
    format!(
        "<form id=\"{id}\" method=\"post\" action=\"{prefix}/authorize/{action}\">{hidden}{fields}\
         <button type=\"submit\">{button}</button></form>",
        prefix = escape(ctx.prefix),
        hidden = hidden(ctx),
        button = escape(button),
    )
}

/// Names the account (identifier first).
pub fn identify(ctx: &Context<'_>) -> String {
    let fields = "<label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label><input type=\"checkbox\" name=\"stay_signed_in\" value=\"on\"> Stay signed in</label>";
    document("Sign in", ctx.tenant_label, ctx.message, &form(ctx, "identify", "identify", fields, "Continue"))
}

/// The factors the login may pass next: a password form, a form to send a one-time code
/// for each OTP factor, a code form for each authenticator app.
pub fn factors(ctx: &Context<'_>, choices: &[Choice<'_>], step_up: bool) -> String {
    let mut body = String::new();
    if step_up {
        body.push_str("<p>This application needs a second factor.</p>");
    }
    for choice in choices {
        let id = escape(choice.id);
        let factor = format!("<input type=\"hidden\" name=\"factor_id\" value=\"{id}\">");
        let html = match choice.kind {
            "password" => form(
                ctx,
                "password-form",
                "password",
                "<label for=\"password\">Password</label>\
                 <input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required>",
                "Sign in",
            ),
            "otp" => {
                let channel = choice.channel.unwrap_or("sms");
                form(ctx, &format!("otp-{id}"), "otp/send", &factor, &format!("Send a code by {channel}"))
            }
            "totp" => form(
                ctx,
                &format!("totp-{id}"),
                "totp",
                &format!(
                    "{factor}<label for=\"totp-code\">Code from your authenticator app</label>\
                     <input id=\"totp-code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>"
                ),
                "Verify",
            ),
            _ => String::new(),
        };
        body.push_str(&html);
    }
    body.push_str(&form(ctx, "switch", "switch", "", "Use another account"));
    document("Sign in", ctx.tenant_label, ctx.message, &body)
}

/// Enter the one-time code just sent.
pub fn otp_code(ctx: &Context<'_>, factor_id: &str) -> String {
    let fields = format!(
        "<input type=\"hidden\" name=\"factor_id\" value=\"{}\">\
         <label for=\"otp-code\">The code we sent you</label>\
         <input id=\"otp-code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus>",
        escape(factor_id)
    );
    document(
        "Enter your code",
        ctx.tenant_label,
        ctx.message,
        &form(ctx, "otp-verify", "otp/verify", &fields, "Verify"),
    )
}

/// Accept the current versions of the documents due.
pub fn legal(ctx: &Context<'_>, due: &[LegalDue]) -> String {
    let mut fields = String::from("<ul>");
    for document in due {
        let label = escape(&document.label);
        let shown = match &document.url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                format!("<a href=\"{}\" target=\"_blank\" rel=\"noopener\">{label}</a>", escape(url))
            }
            _ => label,
        };
        let _ = write!(
            fields,
            "<li>{shown} (version {version})<input type=\"hidden\" name=\"document\" value=\"{id}:{version}\"></li>",
            version = document.version,
            id = escape(&document.document_id),
        );
    }
    fields.push_str("</ul>");
    document("Terms", ctx.tenant_label, ctx.message, &form(ctx, "legal", "legal", &fields, "I accept"))
}

/// Allow or deny the client the scopes that need consent.
pub fn consent(ctx: &Context<'_>, client_name: &str, scopes: &[String]) -> String {
    let mut fields = format!("<p><strong>{}</strong> asks for:</p><ul>", escape(client_name));
    for scope in scopes {
        let scope = escape(scope);
        let _ = write!(fields, "<li>{scope}<input type=\"hidden\" name=\"scope\" value=\"{scope}\"></li>");
    }
    fields.push_str("</ul>");
    let allow = form(
        ctx,
        "consent",
        "consent",
        &format!("{fields}<input type=\"hidden\" name=\"decision\" value=\"allow\">"),
        "Allow",
    );
    let deny = form(ctx, "deny", "consent", "<input type=\"hidden\" name=\"decision\" value=\"deny\">", "Deny");
    document("Allow access", ctx.tenant_label, ctx.message, &format!("{allow}{deny}"))
}

/// An error the person sees (the request cannot go back to the application).
pub fn error(label: &str, message: &str) -> String {
    document("Cannot continue", label, Some(message), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_content_and_attributes() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let ctx = Context {
            prefix: "/t/acme",
            tenant_label: "<script>",
            csrf: "c\"srf",
            request: "a=1&b=\"2\"",
            message: Some("<b>no</b>"),
        };
        let html = identify(&ctx);
        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("value=\"a=1&amp;b=&quot;2&quot;\""));
        assert!(html.contains("value=\"c&quot;srf\""));
    }
}
