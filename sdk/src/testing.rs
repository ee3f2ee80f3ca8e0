//! A native stand-in for the host, for an extension's own `cargo test`: configuration,
//! secrets, the key-value store and outbound HTTP are thread-local fakes the test sets up
//! and inspects (each test runs on its own thread, so tests do not see each other's state).
//!
//! ```
//! use keyhaven_sdk::{http, kv, json, testing};
//!
//! testing::reset();
//! testing::set_config("url", "https://example.com/hook");
//! testing::on_http(|request| Ok(http::Response { status: 201, headers: vec![], body: b"{}".to_vec() }));
//! let sent = http::Request::post("https://example.com/hook").json(&json!({"a": 1})).send().unwrap();
//! assert_eq!(sent.status, 201);
//! assert_eq!(testing::http_requests().len(), 1);
//! kv::set("k", &json!(2)).unwrap();
//! assert_eq!(testing::kv(), vec![("k".to_owned(), json!(2))]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::http::{HttpError, Request, Response};

type Responder = Box<dyn Fn(&Request) -> Result<Response, HttpError>>;

#[derive(Default)]
struct Host {
    config: HashMap<String, String>,
    secrets: HashMap<String, String>,
    kv: BTreeMap<String, String>,
    responder: Option<Responder>,
    requests: Vec<Request>,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

/// Forgets everything set up so far.
pub fn reset() {
    HOST.with(|host| *host.borrow_mut() = Host::default());
}

pub fn set_config(key: &str, value: &str) {
    HOST.with(|host| host.borrow_mut().config.insert(key.to_owned(), value.to_owned()));
}

pub fn set_secret(name: &str, value: &str) {
    HOST.with(|host| host.borrow_mut().secrets.insert(name.to_owned(), value.to_owned()));
}

/// Puts a value into the fake key-value store.
pub fn kv_set(key: &str, value: Value) {
    kv_put(key, &value.to_string());
}

/// The fake key-value store's contents, in key order.
pub fn kv() -> Vec<(String, Value)> {
    HOST.with(|host| {
        host.borrow().kv.iter().map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap_or(Value::Null))).collect()
    })
}

/// Answers outbound HTTP requests with `responder` (without one, requests fail).
pub fn on_http(responder: impl Fn(&Request) -> Result<Response, HttpError> + 'static) {
    HOST.with(|host| host.borrow_mut().responder = Some(Box::new(responder)));
}

/// The outbound HTTP requests sent so far.
pub fn http_requests() -> Vec<Request> {
    HOST.with(|host| host.borrow().requests.clone())
}

pub(crate) fn config(key: &str) -> Option<String> {
    HOST.with(|host| host.borrow().config.get(key).cloned())
}

pub(crate) fn secret(name: &str) -> Option<String> {
    HOST.with(|host| host.borrow().secrets.get(name).cloned())
}

pub(crate) fn kv_get(key: &str) -> Option<String> {
    HOST.with(|host| host.borrow().kv.get(key).cloned())
}

pub(crate) fn kv_put(key: &str, value: &str) {
    HOST.with(|host| host.borrow_mut().kv.insert(key.to_owned(), value.to_owned()));
}

pub(crate) fn kv_remove(key: &str) -> bool {
    HOST.with(|host| host.borrow_mut().kv.remove(key).is_some())
}

pub(crate) fn http(request: Request) -> Result<Response, HttpError> {
    crate::http::parse_url(&request.url)?;
    HOST.with(|host| {
        let mut host = host.borrow_mut();
        host.requests.push(request.clone());
        match &host.responder {
            Some(responder) => responder(&request),
            None => Err(HttpError("no HTTP responder set (keyhaven_sdk::testing::on_http)".into())),
        }
    })
}
