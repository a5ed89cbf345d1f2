//! A deliberately tiny HTTP/1.1 client over a raw TCP socket.
//!
//! Not reqwest: the workspace builds reqwest without a TLS crypto provider, so
//! building a client would need one installed first; and the stream-cut tests
//! need the exact bytes anyway, to tell a finished chunked body (which ends in
//! `0\r\n\r\n`) from one whose connection was dropped. Every request is sent
//! with `connection: close` and read to EOF.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// The body ended properly: its terminating chunk or its full length arrived.
    pub(crate) complete: bool,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text()))
    }
}

/// Sends one request and returns every byte the server sent before closing.
pub(crate) async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect to mock");
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("send head");
    if let Some(body) = body {
        stream.write_all(body).await.expect("send body");
    }
    let mut received = Vec::new();
    // A reset connection counts as the end, like a clean close.
    let _ = stream.read_to_end(&mut received).await;
    received
}

/// Parses raw response bytes; `None` when not even a status line and headers arrived.
pub(crate) fn parse(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).expect("head is UTF-8");
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.clone())
    };
    let (body, complete) = if find("transfer-encoding").as_deref() == Some("chunked") {
        dechunk(rest)
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().expect("content-length is a number");
        (
            rest[..length.min(rest.len())].to_vec(),
            rest.len() >= length,
        )
    } else {
        (rest.to_vec(), true)
    };
    Some(Response {
        status,
        headers,
        body,
        complete,
    })
}

/// Decodes a chunked body; the flag says whether the final empty chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return (body, false);
        };
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("chunk size is ASCII");
        let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size is hex");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (body, true);
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// `POST` a JSON body with the given extra headers.
pub(crate) async fn post_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Response {
    let bytes = serde_json::to_vec(body).expect("serialise body");
    let raw = exchange(addr, "POST", path, headers, Some(&bytes)).await;
    parse(&raw).unwrap_or_else(|| panic!("no HTTP response to POST {path}: {raw:?}"))
}

/// `POST` a JSON body.
pub(crate) async fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    post_with(addr, path, &[], body).await
}

/// `GET` a path.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Response {
    let raw = exchange(addr, "GET", path, &[], None).await;
    parse(&raw).unwrap_or_else(|| panic!("no HTTP response to GET {path}"))
}
