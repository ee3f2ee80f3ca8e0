//! TOTP (RFC 6238 over RFC 4226): 30-second steps, 6 digits, HMAC-SHA1 — what
//! authenticator apps expect — with the shared secret in base32 (RFC 4648, unpadded) and an
//! `otpauth://` URI for enrolment. A code is accepted for the current step or one step
//! either side (clock drift), and never for a step at or before the last one accepted.

use aws_lc_rs::hmac;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, without padding.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes RFC 4648 base32 (case-insensitive, padding and spaces ignored).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let value = BASE32.iter().position(|b| char::from(*b) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The time step a Unix time falls in.
pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// The code for a step (RFC 4226 dynamic truncation), zero-padded to [`DIGITS`].
pub fn code(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let digest = tag.as_ref();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize)
}

/// The step a presented code is valid for — the current one or one either side, and later
/// than `last_step` — if any.
pub fn verify(secret: &[u8], presented: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    let presented = presented.trim();
    if presented.len() != DIGITS as usize || !presented.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    (current - DRIFT_STEPS..=current + DRIFT_STEPS)
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| crate::secrets::constant_time_eq(code(secret, *step).as_bytes(), presented.as_bytes()))
}

/// The enrolment URI authenticator apps read (as a QR code).
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode(issuer),
        encode(account),
        encode(issuer)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc6238_test_vectors_for_sha1() {
        // RFC 6238 appendix B (SHA-1, 8 digits); 6 digits are the last six.
        let secret = b"12345678901234567890";
        for (time, eight) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(code(secret, step_of(time)), eight[2..], "at {time}");
        }
    }

    #[test]
    fn codes_are_accepted_once_within_one_step_of_drift() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_109;
        let current = code(secret, step_of(now));
        assert_eq!(verify(secret, &current, now, None), Some(step_of(now)));
        assert_eq!(verify(secret, &current, now + 30, None), Some(step_of(now)), "one step late");
        assert_eq!(verify(secret, &current, now + 60, None), None, "two steps late");
        assert_eq!(verify(secret, &current, now, Some(step_of(now))), None, "never twice");
        assert_eq!(verify(secret, "12345", now, None), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32("mzxw6ytboi======").unwrap(), b"foobar");
        let bytes: Vec<u8> = (0..20).collect();
        assert_eq!(from_base32(&base32(&bytes)).unwrap(), bytes);
        assert_eq!(from_base32("not base32!"), None);
        assert!(
            otpauth_uri("Acme Corp", "bob", "ABC")
                .starts_with("otpauth://totp/Acme%20Corp:bob?secret=ABC&issuer=Acme%20Corp")
        );
    }
}
