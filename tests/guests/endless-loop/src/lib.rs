//! Test guest: a token-issuance hook that never returns. The host must stop it at its
//! deadline (or when its fuel runs out) without harming anyone else.

use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest};

struct EndlessLoop;

impl TokenIssuance for EndlessLoop {
    fn issue(_request: TokenRequest) -> Result<Claims, Deny> {
        let mut counter: u64 = 0;
        loop {
            counter = core::hint::black_box(counter.wrapping_add(1));
        }
    }
}

keyhaven_sdk::export_token_issuance!(EndlessLoop);
