//! The bridge over an in-memory socket pair standing for the virtio-serial port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use super::*;

/// A server on `path` that answers each connection with `tag`, then the bytes it read
/// (until the client shuts its side down).
fn serve(path: &Path, tag: &'static str) {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut got = Vec::new();
                conn.read_to_end(&mut got).await.unwrap();
                conn.write_all(tag.as_bytes()).await.unwrap();
                conn.write_all(&got).await.unwrap();
                conn.shutdown().await.unwrap();
            });
        }
    });
}

async fn call(path: &Path, body: &[u8]) -> Vec<u8> {
    let mut conn = UnixStream::connect(path).await.unwrap();
    let (mut read, mut write) = conn.split();
    let send = async {
        write.write_all(body).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut answer = Vec::new();
    let receive = read.read_to_end(&mut answer);
    let ((), n) = tokio::join!(send, receive);
    n.unwrap();
    answer
}

struct Ends {
    _dir: tempfile::TempDir,
    host: PathBuf,
    guest: PathBuf,
}

async fn wait_for(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never appeared", path.display());
}

/// Two bridges over one socket pair; returns their directories, the host's stop switch
/// and both bridges' outcomes.
async fn link() -> (
    Ends,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<Ended, LinkError>>,
    tokio::task::JoinHandle<Result<Ended, LinkError>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (host, guest) = (dir.path().join("host"), dir.path().join("guest"));
    std::fs::create_dir(&host).unwrap();
    std::fs::create_dir(&guest).unwrap();
    serve(&host.join("mesh.sock"), "mesh:");
    serve(&guest.join("agent.sock"), "agent:");
    let (a, b) = UnixStream::pair().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (h, g) = (host.clone(), guest.clone());
    let host_end = tokio::spawn(async move {
        bridge(
            a,
            Side::Host,
            &h.join("agent.sock"),
            &h.join("mesh.sock"),
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    let guest_end = tokio::spawn(async move {
        bridge(
            b,
            Side::Guest,
            &g.join("mesh.sock"),
            &g.join("agent.sock"),
            std::future::pending(),
        )
        .await
    });
    wait_for(&host.join("agent.sock")).await;
    wait_for(&guest.join("mesh.sock")).await;
    (
        Ends {
            _dir: dir,
            host,
            guest,
        },
        stop,
        host_end,
        guest_end,
    )
}

#[tokio::test]
async fn connections_cross_both_ways_at_once() {
    let (ends, _stop, _h, _g) = link().await;
    // Bodies larger than a yamux window (256 KiB), many at once, both ways.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut calls = Vec::new();
    for i in 0..16 {
        let (host, guest, big) = (ends.host.clone(), ends.guest.clone(), big.clone());
        calls.push(tokio::spawn(async move {
            let body = if i % 4 == 0 {
                big
            } else {
                format!("call {i}").into_bytes()
            };
            let to_agent = call(&host.join("agent.sock"), &body).await;
            assert_eq!(&to_agent[..6], b"agent:");
            assert_eq!(&to_agent[6..], &body[..], "call {i} to the agent");
            let to_mesh = call(&guest.join("mesh.sock"), &body).await;
            assert_eq!(&to_mesh[..5], b"mesh:");
            assert_eq!(&to_mesh[5..], &body[..], "call {i} to the mesh");
        }));
    }
    for c in calls {
        c.await.unwrap();
    }
}

#[tokio::test]
async fn stopping_one_end_closes_the_other() {
    let (ends, stop, host_end, guest_end) = link().await;
    stop.send(()).unwrap();
    assert_eq!(host_end.await.unwrap().unwrap(), Ended::Stopped);
    let guest = tokio::time::timeout(Duration::from_secs(5), guest_end)
        .await
        .expect("the guest's bridge sees the link close");
    assert_eq!(guest.unwrap().unwrap(), Ended::Closed);
    assert!(!ends.host.join("agent.sock").exists());
    assert!(!ends.guest.join("mesh.sock").exists());
}

#[tokio::test]
async fn a_vanished_end_closes_the_other() {
    let (ends, _stop, host_end, guest_end) = link().await;
    // The mesh dies: its end of the socket is closed without a goodbye.
    host_end.abort();
    let guest = tokio::time::timeout(Duration::from_secs(5), guest_end)
        .await
        .expect("the guest's bridge sees the link close");
    assert_eq!(guest.unwrap().unwrap(), Ended::Closed);
    assert!(!ends.guest.join("mesh.sock").exists());
}

#[tokio::test]
async fn a_connection_with_nothing_behind_it_is_closed() {
    let (ends, _stop, _h, _g) = link().await;
    std::fs::remove_file(ends.guest.join("agent.sock")).unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        call(&ends.host.join("agent.sock"), b"anyone?"),
    )
    .await
    .expect("the caller is not left hanging");
    assert!(answer.is_empty());
    // The link still works the other way.
    assert_eq!(call(&ends.guest.join("mesh.sock"), b"x").await, b"mesh:x");
}
