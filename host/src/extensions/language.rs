//! The language a component was written in, as far as the host needs to know it: a
//! JavaScript guest carries its engine (QuickJS, snapshotted with the handler loaded), so it
//! is 1–15 MB, needs tens of MiB of memory and burns far more instructions per call than a
//! component compiled straight to WebAssembly (Rust, C, Go). The JavaScript build
//! (`sdk/js`) marks its components with a `keyhaven:language` custom section; anything
//! without it is `compiled`. Only limits depend on the language — a JavaScript guest runs
//! in the same sandbox, against the same contract, with the same typed outcomes.

use serde::Serialize;

/// The custom section the JavaScript build appends, holding the language's name.
pub const LANGUAGE_SECTION: &str = "keyhaven:language";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Compiled straight to WebAssembly (Rust, C, Go, ...): the plan's base limits.
    #[default]
    Compiled,
    /// A JavaScript or TypeScript handler built by `keyhaven-js` (QuickJS inside): the
    /// plan's `js_*` limits.
    JavaScript,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Compiled => "compiled",
            Language::JavaScript => "javascript",
        }
    }

    /// Reads a stored name; anything unknown is `compiled` (the strictest limits).
    pub fn parse(name: &str) -> Language {
        match name {
            "javascript" => Language::JavaScript,
            _ => Language::Compiled,
        }
    }

    /// The language a component's `keyhaven:language` section names. Only top-level
    /// sections count: a nested module's custom sections are its toolchain's business.
    /// Unparsable bytes are `compiled`; the upload's own checks report what is wrong.
    pub fn of_component(bytes: &[u8]) -> Language {
        use wasmparser::{Parser, Payload};
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(payload) = payload else { return Language::Compiled };
            match payload {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::CustomSection(section) if depth == 0 && section.name() == LANGUAGE_SECTION => {
                    return Language::parse(std::str::from_utf8(section.data()).unwrap_or_default().trim());
                }
                _ => {}
            }
        }
        Language::Compiled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component preamble (magic, component version and layer) and a custom section.
    fn component_with_section(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        let mut body = vec![u8::try_from(name.len()).unwrap_or(0)];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(payload);
        bytes.push(0);
        bytes.push(u8::try_from(body.len()).unwrap_or(0));
        bytes.extend(body);
        bytes
    }

    #[test]
    fn the_language_section_names_the_language_and_its_absence_means_compiled() {
        assert_eq!(
            Language::of_component(&component_with_section(LANGUAGE_SECTION, b"javascript")),
            Language::JavaScript
        );
        assert_eq!(Language::of_component(&component_with_section("producers", b"")), Language::Compiled);
        assert_eq!(Language::of_component(&component_with_section(LANGUAGE_SECTION, b"cobol")), Language::Compiled);
        assert_eq!(Language::of_component(b"not wasm"), Language::Compiled);
    }

    #[test]
    fn stored_names_round_trip() {
        for language in [Language::Compiled, Language::JavaScript] {
            assert_eq!(Language::parse(language.as_str()), language);
        }
    }
}
