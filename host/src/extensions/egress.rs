//! The node's egress policy for extensions' outbound HTTP: whatever hosts a tenant allows,
//! a request may not reach this node's own networks. Loopback, private, shared (CGNAT),
//! link-local (where cloud metadata services answer), multicast, documentation and
//! otherwise reserved ranges of IPv4 and IPv6 — IPv4 also in its mapped, compatible, NAT64
//! and 6to4 IPv6 forms — are denied unless the operator's allow-list (CIDR ranges,
//! `KEYHAVEN_EGRESS_ALLOW`) names them. The check is on the addresses a name resolves to,
//! and the connection goes to the very address that was checked: a name that resolves
//! differently a moment later (DNS rebinding) is never looked up again. Every request is
//! checked on its own, so a redirect the guest follows is checked like its first request.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use ipnet::IpNet;

/// A resolution of `host:port` to addresses.
pub type Resolution<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Resolves host names: the system's resolver, or in a test a stand-in for a DNS server.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolution<'a>;
}

/// The system's resolver (`getaddrinfo`, off the executor).
#[derive(Debug)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolution<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Where outbound requests may go from this node.
#[derive(Clone)]
pub struct EgressPolicy {
    /// Ranges the operator allows although they are reserved.
    allowed: Vec<IpNet>,
    resolver: Arc<dyn Resolve>,
}

impl std::fmt::Debug for EgressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressPolicy").field("allowed", &self.allowed).finish_non_exhaustive()
    }
}

impl PartialEq for EgressPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.allowed == other.allowed && Arc::ptr_eq(&self.resolver, &other.resolver)
    }
}

impl Eq for EgressPolicy {}

impl Default for EgressPolicy {
    /// Every reserved range denied, through the system's resolver.
    fn default() -> Self {
        EgressPolicy::allowing(Vec::new())
    }
}

/// Why a request may not leave the node.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EgressRefusal {
    #[error("{host} resolves to {address}, a {class} address the node's egress policy denies")]
    Denied { host: String, address: IpAddr, class: &'static str },
    #[error("{host} could not be resolved: {reason}")]
    Unresolved { host: String, reason: String },
}

impl EgressPolicy {
    /// The default policy, with the operator's allowed ranges.
    pub fn allowing(allowed: Vec<IpNet>) -> Self {
        EgressPolicy { allowed, resolver: Arc::new(SystemResolver) }
    }

    /// The same policy, resolving names with `resolver`.
    pub fn with_resolver(self, resolver: Arc<dyn Resolve>) -> Self {
        EgressPolicy { resolver, ..self }
    }

    /// An allow-list as the operator writes it: ranges (`10.1.0.0/16`, `fd00::/8`) or single
    /// addresses, separated by commas or spaces.
    pub fn parse_allow_list(text: &str) -> Result<Vec<IpNet>, String> {
        text.split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| match entry.parse::<IpNet>() {
                Ok(net) => Ok(net.trunc()),
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| entry.to_owned()),
            })
            .collect()
    }

    /// The class of a reserved address this policy denies, or `None` if it may be reached.
    pub fn denial(&self, address: IpAddr) -> Option<&'static str> {
        let address = canonical(address);
        if self.allowed.iter().any(|net| net.contains(&address)) {
            return None;
        }
        reserved(address)
    }

    /// The addresses a request to `host:port` may connect to: every address the name
    /// resolves to (an IP literal is its own), all of them permitted. One denied address
    /// refuses the request, so a name cannot mix a public address with an internal one.
    pub async fn destinations(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressRefusal> {
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let addresses = match literal.parse::<IpAddr>() {
            Ok(address) => vec![SocketAddr::new(address, port)],
            Err(_) => self
                .resolver
                .resolve(host, port)
                .await
                .map_err(|e| EgressRefusal::Unresolved { host: host.to_owned(), reason: e.to_string() })?,
        };
        if addresses.is_empty() {
            return Err(EgressRefusal::Unresolved { host: host.to_owned(), reason: "no address".into() });
        }
        for address in &addresses {
            if let Some(class) = self.denial(address.ip()) {
                return Err(EgressRefusal::Denied { host: host.to_owned(), address: address.ip(), class });
            }
        }
        Ok(addresses)
    }
}

/// An IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) as that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else { return address };
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| IpAddr::V4(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    match s {
        // Compatible (deprecated), but not :: and ::1 themselves.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => embedded(hi, lo),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
        [0x2002, hi, lo, ..] => embedded(hi, lo),
        _ => address,
    }
}

/// The class of a reserved address (one not on the public internet), or `None`.
fn reserved(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => reserved_v6(v6),
    }
}

fn reserved_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = v4.octets();
    let class = match (a, b, c) {
        _ if v4.is_loopback() => "loopback",
        _ if v4.is_private() => "private",
        _ if v4.is_link_local() => "link-local (cloud metadata)",
        _ if v4.is_multicast() => "multicast",
        _ if v4.is_broadcast() => "broadcast",
        _ if v4.is_documentation() => "documentation",
        (0, ..) => "unspecified",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (192, 0, 0) => "IETF protocol",
        (198, 18..=19, _) => "benchmarking",
        (240..=255, ..) => "reserved",
        _ => return None,
    };
    Some(class)
}

fn reserved_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    let class = match first {
        _ if v6.is_loopback() => "loopback",
        _ if v6.is_unspecified() => "unspecified",
        _ if v6.is_multicast() => "multicast",
        _ if v6.is_unicast_link_local() => "link-local",
        _ if v6.is_unique_local() => "unique local (private)",
        // Site-local (deprecated, still routed inside some networks).
        0xfec0..=0xfeff => "site-local",
        0x2001 if v6.segments()[1] == 0x0db8 => "documentation",
        // Discard-only 100::/64.
        0x0100 if v6.segments()[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn denied(policy: &EgressPolicy, address: &str) -> Option<&'static str> {
        policy.denial(address.parse().unwrap())
    }

    #[test]
    fn reserved_ranges_are_denied_in_every_form() {
        let policy = EgressPolicy::default();
        for (address, class) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("100.100.100.200", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "unique local (private)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4.
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local (cloud metadata)"),
            ("::10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local (cloud metadata)"),
        ] {
            assert_eq!(denied(&policy, address), Some(class), "{address}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert_eq!(denied(&policy, public), None, "{public}");
        }
    }

    #[test]
    fn the_operators_allow_list_opens_only_what_it_names() {
        let allowed = EgressPolicy::parse_allow_list("127.0.0.1, 10.1.0.0/16 fd00::1").unwrap();
        let policy = EgressPolicy::allowing(allowed);
        assert_eq!(denied(&policy, "127.0.0.1"), None);
        assert_eq!(denied(&policy, "::ffff:127.0.0.1"), None, "the mapped form of an allowed address");
        assert_eq!(denied(&policy, "127.0.0.2"), Some("loopback"));
        assert_eq!(denied(&policy, "10.1.200.3"), None);
        assert_eq!(denied(&policy, "10.2.0.1"), Some("private"));
        assert_eq!(denied(&policy, "fd00::1"), None);
        assert!(EgressPolicy::parse_allow_list("10.0.0.0/33").is_err());
        assert_eq!(EgressPolicy::parse_allow_list("localhost"), Err("localhost".to_owned()));
    }

    struct Fixed(Vec<SocketAddr>);

    impl Resolve for Fixed {
        fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Resolution<'a> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
    }

    #[tokio::test]
    async fn a_name_is_checked_on_every_address_it_resolves_to() {
        let mixed = Fixed(vec!["93.184.216.34:443".parse().unwrap(), "10.0.0.7:443".parse().unwrap()]);
        let policy = EgressPolicy::default().with_resolver(Arc::new(mixed));
        let refused = policy.destinations("api.example.com", 443).await.unwrap_err();
        assert!(refused.to_string().contains("10.0.0.7, a private address"), "{refused}");
        assert!(policy.destinations("[::1]", 80).await.is_err(), "an IPv6 literal is checked without a lookup");
        let public = EgressPolicy::default().with_resolver(Arc::new(Fixed(vec!["8.8.8.8:443".parse().unwrap()])));
        assert_eq!(public.destinations("dns.example", 443).await.unwrap(), ["8.8.8.8:443".parse().unwrap()]);
    }
}
