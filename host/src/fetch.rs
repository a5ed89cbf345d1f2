//! HTTP requests made by the mesh on an agent's behalf (`POST /mesh/http`), the only way a
//! sandboxed agent reaches the web.
//!
//! Guarding against server-side request forgery: only `http`/`https`; no credentials in the
//! URL; the host must be on the allowlist (if one is configured); every address the name
//! resolves to must be public (not loopback, private, link-local, CGNAT, multicast or
//! reserved, IPv4-mapped IPv6 included) unless `http.allow_private` is set; the connection
//! is pinned to the checked address, so a second DNS answer cannot swap in an internal one;
//! redirects are followed by hand, each hop checked the same way. Hosts listed in
//! `http.allow_private_hosts` may be private (an intranet service), no others.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub use openlegion_protocol::{FetchRequest, FetchResponse};
use reqwest::Url;

use crate::config::HttpSection;

const MAX_REDIRECTS: usize = 5;
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const MAX_TIMEOUT_MS: u64 = 120_000;

/// Why a request was refused or failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    #[error("invalid URL {url:?}: {problem}")]
    BadUrl { url: String, problem: String },
    #[error("{host} is not on the allowlist (http.allowed_domains)")]
    NotAllowed { host: String },
    #[error(
        "{host} resolves to {addr}, a private or local address; refused (set http.allow_private to allow)"
    )]
    PrivateAddress { host: String, addr: IpAddr },
    #[error("cannot resolve {host}: {problem}")]
    Resolve { host: String, problem: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("request to {url} failed: {problem}")]
    Failed { url: String, problem: String },
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && ip.octets()[2] == 0)) // IETF protocol assignments
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let first = seg[0];
    // The IPv4 address carried in the last 32 bits (NAT64) or in bits 16..48 (6to4): a
    // translator or relay would deliver the packet there.
    let low_v4 = Ipv4Addr::from(((seg[6] as u32) << 16) | seg[7] as u32);
    let six_to_four = Ipv4Addr::from(((seg[1] as u32) << 16) | seg[2] as u32);
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, the EC2 metadata)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed by some)
        || first == 0x2001 && seg[1] == 0x0db8 // documentation
        || first == 0x2001 && seg[1] == 0 // Teredo: the client's address is hidden inside
        || first == 0x0064 && seg[1] == 0xff9b && !is_public_v4(low_v4) // NAT64
        || first == 0x2002 && !is_public_v4(six_to_four) // 6to4
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4))) // IPv4-compatible
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|d| {
            let d = d.trim_start_matches("*.").to_ascii_lowercase();
            host == d || host.ends_with(&format!(".{d}"))
        })
}

/// Checks `url` (text) under `policy`, as every hop of [`fetch`] is checked: the one SSRF
/// policy of the mesh, also applied by the browser to each request a page makes and by web
/// search to its provider.
pub async fn check_url(url: &str, policy: &HttpSection) -> Result<(), FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl {
        url: url.to_owned(),
        problem: e.to_string(),
    })?;
    check(&parsed, policy).await.map(drop)
}

/// Checks `url` and returns the address to connect to: the one address the connection
/// must be pinned to (the name is resolved once, here, and every answer is checked).
pub(crate) async fn check(url: &Url, policy: &HttpSection) -> Result<SocketAddr, FetchError> {
    let bad = |problem: &str| FetchError::BadUrl {
        url: url.to_string(),
        problem: problem.into(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http and https are allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in URLs are not allowed"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad("no host"))?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    if !host_allowed(&host, &policy.allowed_domains) {
        return Err(FetchError::NotAllowed { host });
    }
    let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => crate::resolve::lookup(&host, port)
            .await
            .map_err(|e| FetchError::Resolve {
                host: host.clone(),
                problem: e.to_string(),
            })?,
    };
    let first = *addrs.first().ok_or_else(|| FetchError::Resolve {
        host: host.clone(),
        problem: "no addresses".into(),
    })?;
    let exempt = policy
        .allow_private_hosts
        .iter()
        .any(|h| h.trim_matches(['[', ']']).eq_ignore_ascii_case(&host));
    if !policy.allow_private
        && !exempt
        && let Some(private) = addrs.iter().find(|a| !is_public(a.ip()))
    {
        return Err(FetchError::PrivateAddress {
            host,
            addr: private.ip(),
        });
    }
    Ok(first)
}

/// A client that reaches `host` only at `addr`, the address [`check`] approved: it never
/// asks DNS again (a second answer could name an internal address: rebinding), never goes
/// through an `HTTP_PROXY`/`ALL_PROXY` of the environment (the proxy would resolve the name
/// itself), and follows no redirect on its own (each hop is checked by [`fetch`]).
fn pinned_client(
    host: &str,
    addr: SocketAddr,
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    pinned_builder(host, addr)
        .timeout(timeout)
        .user_agent("OpenLegion/0.1 (+mesh fetch)")
        .build()
}

/// The builder of [`pinned_client`] before its timeout and user agent: also used by the
/// browser's proxy ([`crate::browse_proxy`]), which streams and forwards the browser's own
/// headers.
pub(crate) fn pinned_builder(host: &str, addr: SocketAddr) -> reqwest::ClientBuilder {
    crate::http_client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve(host, addr)
}

/// Performs `req` under `policy`.
pub async fn fetch(req: FetchRequest, policy: &HttpSection) -> Result<FetchResponse, FetchError> {
    let method =
        reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            FetchError::BadUrl {
                url: req.url.clone(),
                problem: format!("unknown method {}", req.method),
            }
        })?;
    let timeout = Duration::from_millis(
        req.timeout_ms
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .clamp(1, MAX_TIMEOUT_MS),
    );
    let max_body = policy.max_body_kb.unwrap_or(1024) as usize * 1024;
    let mut url = Url::parse(&req.url).map_err(|e| FetchError::BadUrl {
        url: req.url.clone(),
        problem: e.to_string(),
    })?;
    let mut method = method;
    let mut body = req.body.clone();
    for _ in 0..=MAX_REDIRECTS {
        let addr = check(&url, policy).await?;
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let client = pinned_client(&host, addr, timeout).map_err(|e| FetchError::Failed {
            url: url.to_string(),
            problem: e.to_string(),
        })?;
        let mut request = client.request(method.clone(), url.clone());
        for (name, value) in &req.headers {
            if !matches!(
                name.to_ascii_lowercase().as_str(),
                "host" | "connection" | "content-length" | "transfer-encoding"
            ) {
                request = request.header(name, value);
            }
        }
        if let Some(b) = &body {
            request = request.body(b.clone());
        }
        let mut resp = request.send().await.map_err(|e| FetchError::Failed {
            url: url.to_string(),
            problem: e.to_string(),
        })?;
        if resp.status().is_redirection()
            && let Some(location) = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
        {
            url = url.join(location).map_err(|e| FetchError::BadUrl {
                url: location.to_owned(),
                problem: e.to_string(),
            })?;
            if resp.status() == reqwest::StatusCode::SEE_OTHER
                || (resp.status().as_u16() <= 302 && method == reqwest::Method::POST)
            {
                method = reqwest::Method::GET;
                body = None;
            }
            continue;
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::Failed {
            url: url.to_string(),
            problem: e.to_string(),
        })? {
            let room = max_body - bytes.len();
            if chunk.len() > room {
                bytes.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(FetchResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            truncated,
            url: url.to_string(),
        });
    }
    Err(FetchError::TooManyRedirects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "ff02::1",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fec0::1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn allowlist_matches_domains_and_subdomains() {
        let allowed = vec!["example.com".to_owned(), "*.api.dev".to_owned()];
        assert!(host_allowed("example.com", &allowed));
        assert!(host_allowed("www.example.com", &allowed));
        assert!(!host_allowed("badexample.com", &allowed));
        assert!(host_allowed("x.api.dev", &allowed));
        assert!(host_allowed("anything.org", &[]));
    }

    #[tokio::test]
    async fn refusals() {
        let policy = HttpSection::default();
        let f = |url: &str| {
            fetch(
                FetchRequest {
                    method: "GET".into(),
                    url: url.into(),
                    headers: vec![],
                    body: None,
                    timeout_ms: None,
                },
                &policy,
            )
        };
        assert!(matches!(
            f("file:///etc/passwd").await,
            Err(FetchError::BadUrl { .. })
        ));
        assert!(matches!(
            f("http://user:pw@example.com/").await,
            Err(FetchError::BadUrl { .. })
        ));
        assert!(matches!(
            f("http://127.0.0.1:1/").await,
            Err(FetchError::PrivateAddress { .. })
        ));
        assert!(matches!(
            f("http://[::ffff:10.0.0.1]/").await,
            Err(FetchError::PrivateAddress { .. })
        ));
        assert!(matches!(
            f("http://169.254.169.254/latest/meta-data").await,
            Err(FetchError::PrivateAddress { .. })
        ));
        assert!(matches!(
            f("http://localhost:1/").await,
            Err(FetchError::PrivateAddress { .. })
        ));
    }

    #[tokio::test]
    async fn listed_private_hosts_are_exempt_and_no_others() {
        let policy = HttpSection {
            allow_private_hosts: vec!["127.0.0.1".into()],
            ..HttpSection::default()
        };
        assert_eq!(check_url("http://127.0.0.1:9/x", &policy).await, Ok(()));
        assert!(matches!(
            check_url("http://localhost:9/x", &policy).await,
            Err(FetchError::PrivateAddress { .. })
        ));
        assert!(matches!(
            check_url("http://10.0.0.1/", &policy).await,
            Err(FetchError::PrivateAddress { .. })
        ));
    }

    /// The connection goes to the address the check approved, never to a second DNS
    /// answer: a name no resolver knows (`.invalid`) is reached at its pinned address.
    #[tokio::test]
    async fn the_checked_address_is_pinned_for_the_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|headers: axum::http::HeaderMap| async move {
                headers["host"].to_str().unwrap().to_owned()
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = pinned_client("rebind.invalid", addr, Duration::from_secs(5)).unwrap();
        let url = format!("http://rebind.invalid:{}/", addr.port());
        let answer = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(answer, format!("rebind.invalid:{}", addr.port()));
        // Without the pin the name does not resolve at all.
        let unpinned = crate::http_client::builder().no_proxy().build().unwrap();
        assert!(unpinned.get(&url).send().await.is_err());
    }

    /// Three keys of mesh.yaml's `http:` section, each changing what a fetch does.
    #[tokio::test]
    async fn http_section_keys_take_effect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/big", listener.local_addr().unwrap());
        let app =
            axum::Router::new().route("/big", axum::routing::get(|| async { "x".repeat(4096) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let get = |url: &str| FetchRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: None,
            timeout_ms: None,
        };
        // allow_private: loopback is refused, then reached.
        let mut policy = HttpSection::default();
        assert!(matches!(
            fetch(get(&url), &policy).await,
            Err(FetchError::PrivateAddress { .. })
        ));
        policy.allow_private = true;
        let whole = fetch(get(&url), &policy).await.unwrap();
        assert_eq!((whole.body.len(), whole.truncated), (4096, false));
        // max_body_kb: the body is cut at 1 KiB.
        policy.max_body_kb = Some(1);
        let cut = fetch(get(&url), &policy).await.unwrap();
        assert_eq!((cut.body.len(), cut.truncated), (1024, true));
        // allowed_domains: a host not on the list is refused before any connection.
        policy.allowed_domains = vec!["example.com".into()];
        assert!(matches!(
            fetch(get(&url), &policy).await,
            Err(FetchError::NotAllowed { .. })
        ));
    }
}
