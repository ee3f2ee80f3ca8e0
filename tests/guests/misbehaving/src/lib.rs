//! Test guest: a token-issuance hook that behaves as the client's `behaviour` attribute
//! says. Misbehaviour the host must turn into typed errors without harm: `loop` forever,
//! `allocate` past its memory limit, `recurse` past its stack, `panic`, `too-many-claims`,
//! `big-claim` (20,000 bytes), `sleep` (10 s), `stdout` (2 KB of output). Probes of the
//! sandbox, answered in claims: `env` (`env_count`), `files` (`files`), `sockets`
//! (`sockets`), `http` to the attribute `url` (`http_status` or `http_error`). Host imports:
//! `kv` (writes attribute `value` to key `probe`, reads it back as claim `kv`), `config`
//! (claims `config` = setting `greeting`, `secret_len` = length of secret `token`).
//! `scopes`: suppresses scope `a` and adds the scope in attribute `add`.

use core::hint::black_box;

use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest, Value, config, http, kv, secrets};

struct Misbehaving;

fn recurse(depth: u64) -> u64 {
    if black_box(depth) == 0 { 0 } else { black_box(recurse(depth - 1)) + 1 }
}

fn attribute(request: &TokenRequest, name: &str) -> String {
    request.subject.attribute(name).and_then(|v| v.as_str()).unwrap_or("").to_owned()
}

impl TokenIssuance for Misbehaving {
    fn issue(request: TokenRequest) -> Result<Claims, Deny> {
        let behaviour = request.subject.attribute("behaviour").and_then(|v| v.as_str()).unwrap_or("loop");
        let claims = Claims::new();
        match behaviour {
            "allocate" => {
                let block = black_box(vec![1u8; 64 << 20]);
                Ok(claims.access_token("allocated", block.len()))
            }
            "recurse" => Ok(claims.access_token("depth", recurse(black_box(u64::MAX)))),
            "panic" => panic!("the guest gave up"),
            "too-many-claims" => Ok((0..51).fold(claims, |claims, i| claims.access_token(format!("claim{i}"), i))),
            "big-claim" => Ok(claims.access_token("big", "x".repeat(20_000))),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(10));
                Ok(claims.access_token("slept", true))
            }
            "stdout" => {
                for line in 0..10 {
                    println!("{line}: {}", "o".repeat(200));
                }
                Ok(claims.access_token("printed", true))
            }
            "env" => Ok(claims.access_token("env_count", std::env::vars().count())),
            "files" => {
                let listing = std::fs::read_dir("/").map(|_| "listed /".to_owned()).unwrap_or_else(|e| e.to_string());
                let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_else(|e| e.to_string());
                Ok(claims.access_token("files", vec![listing, passwd]))
            }
            "sockets" => {
                let outcome = match std::net::TcpStream::connect("127.0.0.1:5432") {
                    Ok(_) => "connected".to_owned(),
                    Err(e) => e.to_string(),
                };
                Ok(claims.access_token("sockets", outcome))
            }
            "http" => match http::Request::get(attribute(&request, "url")).send() {
                Ok(response) => Ok(claims.access_token("http_status", response.status)),
                Err(e) => Ok(claims.access_token("http_error", e.0)),
            },
            "kv" => {
                let value = Value::String(attribute(&request, "value"));
                kv::set("probe", &value).map_err(|e| Deny::new(e.to_string()))?;
                let read = kv::get("probe").map_err(|e| Deny::new(e.to_string()))?;
                Ok(claims.access_token("kv", read.unwrap_or(Value::Null)))
            }
            // Scope changes: suppress `a`, add the attribute `add` (which the client may or
            // may not be allowed).
            "scopes" => Ok(claims.suppress_scope("a").add_scope(attribute(&request, "add"))),
            "config" => {
                let greeting = config::get("greeting").unwrap_or_default();
                let secret_len = secrets::get("token").map(|s| s.len()).unwrap_or(0);
                Ok(claims.access_token("config", greeting).access_token("secret_len", secret_len))
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
