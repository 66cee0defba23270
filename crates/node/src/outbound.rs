//! Which addresses a node calls on another's behalf.
//!
//! Every call to another node (the public probe, the admin's destination check, a URL another
//! node declares, an invitation's initiator, delivery and polls) goes through [`PeerClient`].
//! Unless the admin allows private destinations (`--allow-private-destinations`), it refuses
//! loopback, link-local, private (RFC 1918, ULA, CGNAT), unspecified, multicast and reserved
//! addresses, in every spelling (IPv4-mapped, NAT64, 6to4, decimal IPv4 …):
//!
//! - a URL whose host is an IP address is checked before the request is made;
//! - a host name is resolved by [`GuardedResolver`], which hands the connector only the
//!   addresses that pass, so the address checked is the address connected to (a name that
//!   resolves to a public address for the check and a private one for the call cannot slip
//!   through);
//! - redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why a call was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("'{url}' is not a URL this node calls: {problem}")]
    Invalid { url: String, problem: String },
    #[error(
        "{host} is a private, loopback or otherwise non-public address, which this node does not call on another's behalf (its admin can allow it with --allow-private-destinations)"
    )]
    Private { host: String },
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT, 100.64.0.0/10
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match segments {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64: the well-known prefix carries an IPv4 address; the local-use one is private.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => false,
        // 6to4 carries an IPv4 address in its prefix.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        // Teredo hides its address; documentation; discard-only.
        [0x2001, 0, ..] | [0x2001, 0xdb8, ..] | [0x100, 0, 0, 0, ..] => false,
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first & 0xff00) == 0xff00) // multicast
        }
    }
}

/// Parses `url` and checks what can be checked without resolving it: http or https, no
/// credentials, and a host that is not a non-public IP address (unless allowed).
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, Refusal> {
    let invalid = |problem: &str| Refusal::Invalid {
        url: url.to_owned(),
        problem: problem.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only http and https URLs are called"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("it carries credentials"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(invalid("it has no host"));
    };
    // The parser writes any IPv4 spelling (decimal, hex, short) as a dotted quad, and an IPv6
    // address in brackets.
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if let Some(ip) = ip
        && !allow_private
        && !is_public(ip)
    {
        return Err(Refusal::Private {
            host: ip.to_string(),
        });
    }
    Ok(parsed)
}

/// Resolves host names with the system resolver and keeps only public addresses.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Refusal::Private { host }) as _);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for calls to other nodes, with the address policy.
#[derive(Debug, Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    allow_private: bool,
}

impl PeerClient {
    pub fn new(allow_private: bool) -> Result<PeerClient, String> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            // A node closes a connection idle for its header timeout (10 s by default): drop
            // ours sooner, so a request never goes out on one the far end is closing.
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            // Another node answers at its own URL; a redirect is not followed (with a signed
            // body, or to an address the policy refuses).
            .redirect(reqwest::redirect::Policy::none());
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot make the HTTP client: {e}"))?;
        Ok(PeerClient {
            http,
            allow_private,
        })
    }

    /// Whether private destinations are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// A request to `url`, once the URL passes [`check_url`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refusal> {
        let url = check_url(url, self.allow_private)?;
        Ok(self.http.request(method, url))
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Refusal> {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refusal> {
        self.request(reqwest::Method::POST, url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_are_told_apart_in_every_spelling() {
        for private in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0::1",
            "100::1",
        ] {
            assert!(!public(private), "{private}");
        }
        for open in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(open), "{open}");
        }
    }

    #[test]
    fn urls_with_private_literal_hosts_or_credentials_are_refused() {
        for url in [
            "http://127.0.0.1:5432",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:6379",
            "http://169.254.169.254/latest",
        ] {
            assert!(
                matches!(check_url(url, false), Err(Refusal::Private { .. })),
                "{url}"
            );
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        assert!(matches!(
            check_url("http://u:p@node.example", true),
            Err(Refusal::Invalid { .. })
        ));
        assert!(matches!(
            check_url("ftp://node.example", true),
            Err(Refusal::Invalid { .. })
        ));
        assert!(check_url("https://node.example/base", false).is_ok());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_by_the_resolver() {
        use reqwest::dns::Resolve as _;
        let name: reqwest::dns::Name = "localhost".parse().expect("a name");
        let resolved = GuardedResolver.resolve(name).await;
        let error = resolved.err().expect("refused").to_string();
        assert!(error.contains("localhost"), "{error}");
    }
}
