//! Test guest: a token-issuance hook that misbehaves as the client's `behaviour` attribute
//! says — `loop` forever, `allocate` past its memory limit, `recurse` past its stack,
//! `panic`, or return `too-many-claims`. The host must turn each into a typed error
//! without harm to itself or anyone else.

use core::hint::black_box;

use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest};

struct Misbehaving;

fn recurse(depth: u64) -> u64 {
    if black_box(depth) == 0 { 0 } else { black_box(recurse(depth - 1)) + 1 }
}

impl TokenIssuance for Misbehaving {
    fn issue(request: TokenRequest) -> Result<Claims, Deny> {
        let behaviour = request.subject.attribute("behaviour").and_then(|v| v.as_str()).unwrap_or("loop");
        match behaviour {
            "allocate" => {
                let block = black_box(vec![1u8; 64 << 20]);
                Ok(Claims::new().access_token("allocated", block.len()))
            }
            "recurse" => Ok(Claims::new().access_token("depth", recurse(black_box(u64::MAX)))),
            "panic" => panic!("the guest gave up"),
            "too-many-claims" => {
                Ok((0..51).fold(Claims::new(), |claims, i| claims.access_token(format!("claim{i}"), i)))
            }
            _ => {
                let mut counter: u64 = 0;
                loop {
                    counter = black_box(counter.wrapping_add(1));
                }
            }
        }
    }
}

keyhaven_sdk::export_token_issuance!(Misbehaving);
