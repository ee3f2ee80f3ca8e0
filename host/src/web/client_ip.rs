//! The address a request comes from: the connection's peer, or — when the peer is one of
//! the operator's trusted proxies (`KEYHAVEN_TRUSTED_PROXIES`) — the nearest address in
//! `X-Forwarded-For` that is not a trusted proxy itself. A layer names it for the request's
//! whole handling (a task-local), so the checks that count failed authentications read it
//! without every handler passing it down.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

tokio::task_local! {
    static CLIENT_IP: Option<IpAddr>;
}

/// The client address of the request being handled, if the service knows it.
pub fn client_ip() -> Option<IpAddr> {
    CLIENT_IP.try_with(|ip| *ip).ok().flatten()
}

/// The client of a request from `peer` with these `X-Forwarded-For` values.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Right to left: each hop appended the address it received the request from.
    let hops = forwarded_for.iter().rev().flat_map(|value| value.rsplit(',')).map(str::trim);
    let mut client = peer;
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A value a proxy did not write: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client
}

/// Runs the request with its client address named (see [`client_ip`]).
pub async fn name_client(trusted: std::sync::Arc<[IpNet]>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let ip = peer.map(|peer| {
        let forwarded: Vec<&str> =
            request.headers().get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).collect();
        resolve(peer, &forwarded, &trusted)
    });
    CLIENT_IP.scope(ip, next.run(request)).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client that writes its own header is not believed.
        assert_eq!(resolve(ip("203.0.113.7"), &["1.2.3.4"], &trusted), ip("203.0.113.7"));
        // Behind the proxy: the address it saw, past spoofed values to its left.
        assert_eq!(resolve(ip("10.0.0.2"), &["1.2.3.4, 198.51.100.9"], &trusted), ip("198.51.100.9"));
        // Two trusted hops.
        assert_eq!(resolve(ip("10.0.0.2"), &["198.51.100.9, 10.0.0.3"], &trusted), ip("198.51.100.9"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(resolve(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(resolve(ip("10.0.0.2"), &["garbage"], &trusted), ip("10.0.0.2"));
        assert_eq!(resolve(ip("127.0.0.1"), &["1.2.3.4"], &[]), ip("127.0.0.1"));
    }
}
